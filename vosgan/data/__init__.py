"""Video in: readers of the real datasets, the embedded benchmark, shots, optical flow, datasets and loaders."""
