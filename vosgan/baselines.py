"""The unsupervised optical-flow baseline of Table 7: Farneback flow magnitude, thresholded at the
value that is best (mean J) on the training split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from vosgan.data.clips import resize_frames, upsample_maps
from vosgan.data.flow import farneback
from vosgan.metrics.davis import jaccard

DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.1, 4.01, 0.1), 2))


def flow_magnitude(frames: np.ndarray, size: int) -> np.ndarray:
    """|Farneback flow| (N, H, W) at the original size, computed at ``size`` x ``size`` (pixels there)."""
    flow = farneback(resize_frames(frames, size))
    magnitude = torch.from_numpy(np.linalg.norm(flow, axis=-1))[None]
    return upsample_maps(magnitude, *frames.shape[1:3])[0].numpy()


@dataclass
class FlowThresholdBaseline:
    """Foreground = flow magnitude above ``threshold`` pixels per frame (at the working size)."""

    size: int = 64
    threshold: float | None = None
    scores: dict[float, float] = field(default_factory=dict)  # training mean J per candidate threshold

    def fit(self, videos: list[tuple[np.ndarray, np.ndarray]], thresholds=DEFAULT_THRESHOLDS) -> FlowThresholdBaseline:
        """Pick the threshold with the best mean J over (frames (N, H, W, 3), ids (N, H, W)) pairs."""
        magnitudes = [flow_magnitude(f, self.size) for f, _ in videos]
        truths = [ids > 0 for _, ids in videos]
        self.scores = {
            float(th): float(np.mean([jaccard(g, m > th).mean() for m, g in zip(magnitudes, truths)]))
            for th in thresholds
        }
        self.threshold = max(self.scores, key=self.scores.get)
        return self

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Object ids (N, H, W) uint8, 1 = moving foreground."""
        if self.threshold is None:
            raise RuntimeError("fit the baseline on a training split before predicting")
        return (flow_magnitude(frames, self.size) > self.threshold).astype(np.uint8)
