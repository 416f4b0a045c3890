"""DAVIS region similarity J and contour accuracy F, with their mean, recall and decay.

Semantics follow the official DAVIS 2017 evaluation (semi-supervised mode), re-implemented here:
the first and last frames are not scored; the objects are ids 1..max id of the first ground-truth
frame; void pixels (255) count as background; J is 1 when both masks are empty; the boundary
tolerance is a disk of ceil(0.008 x image diagonal) pixels; recall is the share of scored frames
strictly above 0.5; decay is the mean of the first minus the mean of the last of four overlapping
quartile bins; global figures average over objects, not sequences.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BOUND_TH = 0.008
VOID = 255


def jaccard(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Region similarity (IoU) per frame of binary masks (..., H, W); 1 where both are empty."""
    gt, pred = gt.astype(bool), pred.astype(bool)
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    inter = (gt & pred).sum(axis=(-2, -1))
    union = (gt | pred).sum(axis=(-2, -1))
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundaries of a binary mask (H, W), offset half a pixel towards the origin
    (a pixel is on the boundary when it differs from its right, lower or lower-right neighbour)."""
    seg = mask.astype(bool)
    right, down, diag = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    right[:, :-1], down[:-1, :], diag[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
    edges = (seg ^ right) | (seg ^ down) | (seg ^ diag)
    edges[-1, :] = seg[-1, :] ^ right[-1, :]
    edges[:, -1] = seg[:, -1] ^ down[:, -1]
    edges[-1, -1] = False
    return edges


def disk(radius: int) -> np.ndarray:
    """A filled disk structuring element of ``radius`` pixels (x^2 + y^2 <= r^2)."""
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def tolerance(shape: tuple[int, int], bound_th: float = BOUND_TH) -> int:
    """Boundary tolerance in pixels: ceil(bound_th x diagonal), or bound_th itself when >= 1."""
    return int(bound_th) if bound_th >= 1 else math.ceil(bound_th * math.hypot(*shape))


def f_measure(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """Contour accuracy of one frame: F1 of boundary precision and recall within the tolerance."""
    gt_b, pred_b = boundary_map(gt), boundary_map(pred)
    kernel = disk(tolerance(gt.shape, bound_th))
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel).astype(bool)
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), kernel).astype(bool)
    n_pred, n_gt = int(pred_b.sum()), int(gt_b.sum())
    if n_pred == 0 and n_gt == 0:
        precision = recall = 1.0
    elif n_pred == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        precision = (pred_b & gt_dil).sum() / n_pred
        recall = (gt_b & pred_dil).sum() / n_gt
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def boundary_f(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH) -> np.ndarray:
    """F per frame of binary masks (T, H, W)."""
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    return np.array([f_measure(g, p, bound_th) for g, p in zip(gt, pred)])


def statistics(values: np.ndarray) -> tuple[float, float, float]:
    """(mean M, recall O, decay D) of per-frame values of one object."""
    values = np.asarray(values, dtype=float)
    mean = float(np.nanmean(values))
    recall = float(np.nanmean(values > 0.5))
    # Four overlapping quartile bins over the frames (integer bounds; the official code's uint8
    # cast would overflow past 256 frames).
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(int)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(4)]
    decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay


def object_masks(ids: np.ndarray, count: int) -> np.ndarray:
    """Id maps (T, H, W) -> binary masks (count, T, H, W) for objects 1..count."""
    return ids[None] == np.arange(1, count + 1)[:, None, None, None]
