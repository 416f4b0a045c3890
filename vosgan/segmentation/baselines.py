"""The label-free baselines of the segmentation tables, each thresholded at the value that is best
(mean J) on the training split and run at the videos' own resolution by default:

- Farneback flow magnitude (the journal's Table 7 baseline);
- temporal-median background subtraction (a static camera makes each video's per-pixel median over
  time an estimate of its background; foreground = colour distance to it above a threshold).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from vosgan.data.clips import resize_frames, upsample_maps
from vosgan.data.flow import farneback
from vosgan.metrics.davis import jaccard

FLOW_THRESHOLDS = tuple(np.round(np.arange(0.1, 4.01, 0.1), 2))  # pixels per frame
MEDIAN_THRESHOLDS = (1, 2, 3, *range(4, 121, 4))  # summed |RGB| difference, 0-765


def _at_size(maps_fn, frames: np.ndarray, size: int | None) -> np.ndarray:
    """Compute per-frame maps of ``frames`` (N, H, W, 3) at ``size`` x ``size`` (or natively), at (N, H, W)."""
    if size is None:
        return maps_fn(frames)
    small = maps_fn(resize_frames(frames, size))
    return upsample_maps(torch.from_numpy(small)[None], *frames.shape[1:3])[0].numpy()


def flow_magnitude(frames: np.ndarray, size: int | None = None) -> np.ndarray:
    """|Farneback flow| (N, H, W) in pixels per frame, computed at ``size`` (None: the video's own size)."""
    return _at_size(lambda f: np.linalg.norm(farneback(f), axis=-1), frames, size)


def median_difference(frames: np.ndarray, size: int | None = None) -> np.ndarray:
    """Sum over RGB of |frame - per-pixel temporal median| (N, H, W), in 0-765 grey levels."""

    def maps(f: np.ndarray) -> np.ndarray:
        background = np.median(f, axis=0)
        return np.abs(f.astype(np.float32) - background).sum(axis=-1)

    return _at_size(maps, frames, size)


@dataclass
class ThresholdBaseline:
    """Foreground = a per-pixel score above ``threshold``; the score is chosen by ``kind``."""

    kind: str = "flow"  # 'flow' (Farneback magnitude) or 'median' (temporal-median background subtraction)
    size: int | None = None  # working resolution (None: each video's own)
    threshold: float | None = None
    scores: dict[float, float] = field(default_factory=dict)  # training mean J per candidate threshold

    def __post_init__(self):
        if self.kind not in BASELINES:
            raise ValueError(f"unknown baseline {self.kind!r}; choose one of {sorted(BASELINES)}")

    def score_maps(self, frames: np.ndarray) -> np.ndarray:
        return BASELINES[self.kind][0](frames, self.size)

    def fit(self, videos: list[tuple[np.ndarray, np.ndarray]], thresholds=None) -> ThresholdBaseline:
        """Pick the threshold with the best mean J over (frames (N, H, W, 3), ids (N, H, W)) pairs."""
        thresholds = BASELINES[self.kind][1] if thresholds is None else thresholds
        maps = [self.score_maps(f) for f, _ in videos]
        truths = [ids > 0 for _, ids in videos]
        self.scores = {
            float(th): float(np.mean([jaccard(g, m > th).mean() for m, g in zip(maps, truths)])) for th in thresholds
        }
        self.threshold = max(self.scores, key=self.scores.get)
        return self

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Object ids (N, H, W) uint8, 1 = foreground."""
        if self.threshold is None:
            raise RuntimeError("fit the baseline on a training split before predicting")
        return (self.score_maps(frames) > self.threshold).astype(np.uint8)


BASELINES = {"flow": (flow_magnitude, FLOW_THRESHOLDS), "median": (median_difference, MEDIAN_THRESHOLDS)}
BASELINE_NAMES = {"flow": "flow magnitude baseline", "median": "temporal-median baseline"}
