"""DAVIS region similarity J and contour accuracy F, with their mean, recall and decay.

Per-frame measures as the official DAVIS 2017 evaluation computes them, re-implemented here: J is
1 when both masks are empty; the boundary tolerance is a disk of ceil(0.008 x image diagonal)
pixels; void pixels, where given, are left out of both (the official unsupervised mode); recall is
the share of scored frames strictly above 0.5; decay is the mean of the first minus the mean of the
last of four overlapping quartile bins. Which frames and objects are scored: ``vosgan.metrics.evaluate``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BOUND_TH = 0.008
VOID = 255


def jaccard(gt: np.ndarray, pred: np.ndarray, void: np.ndarray | None = None) -> np.ndarray:
    """Region similarity (IoU) per frame of binary masks (..., H, W); 1 where both are empty.
    ``void`` pixels (same shape) count in neither intersection nor union (the unsupervised protocol)."""
    gt, pred = gt.astype(bool), pred.astype(bool)
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    inter, union = gt & pred, gt | pred
    if void is not None:
        inter, union = inter & ~void, union & ~void
    inter, union = inter.sum(axis=(-2, -1)), union.sum(axis=(-2, -1))
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


def _box(*masks: np.ndarray) -> tuple[slice, slice] | None:
    """Rows and columns of the union of ``masks`` (H, W), grown by one pixel on every side (clipped):
    the boundary map of such a crop is the crop of the full boundary map. None when all are empty."""
    rows = np.flatnonzero(np.logical_or.reduce([m.any(axis=1) for m in masks]))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(np.logical_or.reduce([m.any(axis=0) for m in masks]))
    h, w = masks[0].shape
    return slice(max(rows[0] - 1, 0), min(rows[-1] + 2, h)), slice(max(cols[0] - 1, 0), min(cols[-1] + 2, w))


def _within(boundary: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` (Euclidean, x^2 + y^2 <= r^2) of a boundary pixel: the dilation by
    ``disk(radius)``, computed as an exact distance transform (linear time in the pixels, any radius)."""
    distance = cv2.distanceTransform((~boundary).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= radius


def f_measure(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH, void: np.ndarray | None = None) -> float:
    """Contour accuracy of one frame: F1 of boundary precision and recall within the tolerance.

    Same numbers as the official code's dilation by a disk, computed on the masks' bounding box only
    (every boundary pixel lies in it). ``void`` pixels are removed from both masks first."""
    gt, pred = gt.astype(bool), pred.astype(bool)
    if void is not None:
        gt, pred = gt & ~void, pred & ~void
    box = _box(gt, pred)
    if box is None:  # both empty
        return 1.0
    gt_b, pred_b = boundary_map(gt[box]), boundary_map(pred[box])
    n_pred, n_gt = int(pred_b.sum()), int(gt_b.sum())
    if n_pred == 0 and n_gt == 0:
        precision = recall = 1.0
    elif n_pred == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        radius = tolerance(gt.shape, bound_th)
        precision = (pred_b & _within(gt_b, radius)).sum() / n_pred
        recall = (gt_b & _within(pred_b, radius)).sum() / n_gt
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def boundary_f(
    gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH, void: np.ndarray | None = None
) -> np.ndarray:
    """F per frame of binary masks (T, H, W); ``void`` (T, H, W) or None."""
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    voids = [None] * len(gt) if void is None else void
    return np.array([f_measure(g, p, bound_th, v) for g, p, v in zip(gt, pred, voids)])


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
