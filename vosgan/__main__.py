"""``python -m vosgan`` is the ``vosgan`` command (``torchrun -m vosgan train ...`` for DDP)."""

import sys

from vosgan.cli.main import main

sys.exit(main())
