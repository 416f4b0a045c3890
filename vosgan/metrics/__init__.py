"""Metrics: DAVIS J and F in both protocols, what generated masks do, motion coherency, FID, IS and FCD."""

from vosgan.metrics.evaluate import evaluate_arrays, evaluate_folders, evaluate_sequence, format_table

__all__ = ["evaluate_arrays", "evaluate_folders", "evaluate_sequence", "format_table"]
