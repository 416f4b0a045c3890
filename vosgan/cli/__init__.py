"""The `vosgan` command line (``python -m vosgan``)."""
