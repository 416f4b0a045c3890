"""Pictures: frames, streams, overlays and flow colours (frames.py); plots of results (plots.py)."""
