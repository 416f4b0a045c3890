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


def _f_on_crop(gt: np.ndarray, pred: np.ndarray, radius: int) -> float:
    """F of two boolean masks cropped to a box that holds both, grown by a pixel (see ``_box``)."""
    gt_b, pred_b = boundary_map(gt), boundary_map(pred)
    n_pred, n_gt = int(pred_b.sum()), int(gt_b.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0  # precision 1 and recall 0, or the reverse
    precision = (pred_b & _within(gt_b, radius)).sum() / n_pred
    recall = (gt_b & _within(pred_b, radius)).sum() / n_gt
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


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
    return _f_on_crop(gt[box], pred[box], tolerance(gt.shape, bound_th))


def _id_box(ids: np.ndarray, k: int) -> tuple[slice, slice] | None:
    """The bounding box (rows, columns) of id ``k`` in an id map (H, W) uint8, or None if absent."""
    x, y, w, h = cv2.boundingRect(cv2.compare(ids, k, cv2.CMP_EQ))
    return (slice(y, y + h), slice(x, x + w)) if w else None


def frame_measures(
    gt: np.ndarray, pred: np.ndarray, pairs, void: np.ndarray | None = None, bound_th: float = BOUND_TH
) -> tuple[np.ndarray, np.ndarray]:
    """J and F of each (ground-truth id, predicted id) pair on one frame of id maps (H, W).

    Equal to ``jaccard`` and ``f_measure`` of the pair's binary masks, computed on the crop that holds
    both objects (found for every id in one pass), so the cost follows the objects' size, not the frame's.
    """
    gt_boxes = {k: _id_box(gt, k) for k in {g for g, _ in pairs}}
    pred_boxes = {k: _id_box(pred, k) for k in {p for _, p in pairs}}
    radius = tolerance(gt.shape, bound_th)
    h, w = gt.shape
    j, f = np.ones(len(pairs)), np.ones(len(pairs))
    for i, (g_id, p_id) in enumerate(pairs):
        found = [b for b in (gt_boxes[g_id], pred_boxes[p_id]) if b is not None]
        if not found:
            continue  # both empty: J = F = 1
        box = (
            slice(max(min(b[0].start for b in found) - 1, 0), min(max(b[0].stop for b in found) + 1, h)),
            slice(max(min(b[1].start for b in found) - 1, 0), min(max(b[1].stop for b in found) + 1, w)),
        )
        g, p = gt[box] == g_id, pred[box] == p_id
        if void is not None:
            keep = ~void[box]
            g, p = g & keep, p & keep
        inter, union = np.count_nonzero(g & p), np.count_nonzero(g | p)
        j[i] = inter / union if union else 1.0
        f[i] = _f_on_crop(g, p, radius)
    return j, f


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
