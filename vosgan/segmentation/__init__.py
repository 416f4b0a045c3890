"""Segmenting videos with a discriminator: the working-size pipeline, refinement, baselines and evaluation."""
