"""DAVIS-standard segmentation metrics."""

from vosgan.metrics.evaluate import evaluate_arrays, evaluate_folders, evaluate_sequence, format_table

__all__ = ["evaluate_arrays", "evaluate_folders", "evaluate_sequence", "format_table"]
