"""Optical flow, OF(.) of Eq. 2: OpenCV's Farneback method (the paper's reference [8]).

Alignment with the discriminator's per-frame flow channels: channel pair ``t`` holds the flow from
frame ``t`` to frame ``t + 1`` (x then y displacement, in pixels at the clip's resolution); the last
frame has no successor and repeats the flow of the pair before it, so every frame has a target.

Scaling: the discriminator's flow channels end in a sigmoid, so targets are mapped into [0, 1] by
``0.5 + 0.5 * clip(flow / (max_fraction * W), -1, 1)``; a displacement of ``max_fraction`` of the
frame width per frame (default 1/8) reaches the edge of the range.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from einops import rearrange

from vosgan.data.clips import to_uint8
from vosgan.data.io import atomic_write


@dataclass(frozen=True)
class FarnebackParams:
    """Arguments of ``cv2.calcOpticalFlowFarneback``, tuned for 32-64 pixel frames."""

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 9
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.1


DEFAULT_PARAMS = FarnebackParams()


def _gray(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) RGB uint8 -> (T, H, W) grey uint8."""
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])


def _pair_flow(prev: np.ndarray, nxt: np.ndarray, params: FarnebackParams) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(prev, nxt, None, *astuple(params), 0)


def farneback(frames: np.ndarray, params: FarnebackParams = DEFAULT_PARAMS, step: int = 1) -> np.ndarray:
    """Flow of a clip: RGB uint8 (T, H, W, 3) -> (T, H, W, 2) float32 pixels, aligned as the module says.

    ``step`` != 1: the flow from frame t to frame t + step for every t where that frame exists,
    (T - |step|, H, W, 2), in t order (CIS's dT offsets; a negative step looks back)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"farneback expects RGB uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(frames) <= max(1, abs(step)) or step == 0:
        raise ValueError(f"optical flow at step {step} needs more than {max(1, abs(step))} frames, got {len(frames)}")
    if step != 1:
        starts = range(max(0, -step), len(frames) - max(0, step))
        return pairs_flow(frames[list(starts)], frames[[t + step for t in starts]], params)
    gray = _gray(frames)
    flows = [_pair_flow(gray[t], gray[t + 1], params) for t in range(len(gray) - 1)]
    flows.append(flows[-1])
    return np.stack(flows).astype(np.float32)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="farneback")


def batch_flow(video: torch.Tensor, params: FarnebackParams = DEFAULT_PARAMS) -> torch.Tensor:
    """Farneback flow of a batch of clips, (B, 3, T, H, W) in [-1, 1] -> (B, 2, T, H, W) pixels.

    Every frame pair of the batch is one task on a thread pool (OpenCV releases the GIL), so the
    cost per training step is about total pairs / cores.
    """
    frames = np.stack([to_uint8(clip) for clip in video])
    b, t = frames.shape[:2]
    gray = np.stack([_gray(clip) for clip in frames])
    tasks = [(i, j) for i in range(b) for j in range(t - 1)]
    results = list(_pool().map(lambda ij: _pair_flow(gray[ij[0], ij[1]], gray[ij[0], ij[1] + 1], params), tasks))
    flow = np.stack(results).reshape(b, t - 1, *results[0].shape)
    flow = np.concatenate([flow, flow[:, -1:]], axis=1)
    return torch.from_numpy(rearrange(flow, "b t h w c -> b c t h w").astype(np.float32)).to(video.device)


def pairs_flow(first: np.ndarray, second: np.ndarray, params: FarnebackParams = DEFAULT_PARAMS) -> np.ndarray:
    """Farneback flow from each frame of ``first`` to the same-index frame of ``second``: RGB uint8
    (P, H, W, 3) twice -> (P, H, W, 2) float32 pixels; one thread-pool task per pair."""
    if first.shape != second.shape or first.ndim != 4 or first.dtype != np.uint8:
        raise ValueError(f"pairs_flow expects two RGB uint8 (P, H, W, 3) arrays, got {first.shape} and {second.shape}")
    a, b = _gray(first), _gray(second)
    return np.stack(list(_pool().map(lambda i: _pair_flow(a[i], b[i], params), range(len(a))))).astype(np.float32)


def flow_to_target(flow: torch.Tensor, max_fraction: float) -> torch.Tensor:
    """Pixels (B, 2, T, H, W) -> the discriminator's [0, 1] flow range (see module docstring)."""
    limit = max_fraction * flow.shape[-1]
    return 0.5 + 0.5 * (flow / limit).clamp(-1.0, 1.0)


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel coding of flow (..., H, W, 2) -> RGB uint8 (..., H, W, 3): hue = direction, value = speed."""
    fx, fy = flow[..., 0], flow[..., 1]
    magnitude = np.sqrt(fx**2 + fy**2)
    angle = np.arctan2(fy, fx)
    scale = max_magnitude if max_magnitude else max(float(magnitude.max()), 1e-6)
    hsv = np.zeros((*flow.shape[:-1], 3), np.uint8)
    hsv[..., 0] = ((angle + np.pi) / (2 * np.pi) * 179).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / scale * 255, 0, 255).astype(np.uint8)
    flat = hsv.reshape(-1, *hsv.shape[-3:]) if hsv.ndim > 3 else hsv[None]
    rgb = np.stack([cv2.cvtColor(x, cv2.COLOR_HSV2RGB) for x in flat])
    return rgb.reshape(hsv.shape)


class FlowCache:
    """Farneback flow of real clips, computed once and kept on disk.

    Keyed by a hash of the clip's bytes and the Farneback parameters; each entry is written to a
    temporary file and renamed, so an interrupted run never leaves a half-written entry.
    """

    def __init__(self, root: str | os.PathLike, params: FarnebackParams = DEFAULT_PARAMS):
        self.root = Path(root)
        self.params = params

    def key(self, frames: np.ndarray, step: int = 1) -> str:
        h = hashlib.sha1(np.ascontiguousarray(frames).tobytes())
        h.update(repr((frames.shape, astuple(self.params)) + ((step,) if step != 1 else ())).encode())
        return h.hexdigest()

    def path(self, frames: np.ndarray, step: int = 1) -> Path:
        key = self.key(frames, step)
        return self.root / key[:2] / f"{key}.npy"

    def __call__(self, frames: np.ndarray, step: int = 1) -> np.ndarray:
        """``farneback(frames, params, step)`` (float32) of RGB uint8 ``frames`` (T, H, W, 3), from the cache
        when present."""
        path = self.path(frames, step)
        if path.exists():
            try:
                cached = np.load(path).astype(np.float32)
                expected = (len(frames) - (abs(step) if step != 1 else 0), *frames.shape[1:3], 2)
                if cached.shape == expected and np.isfinite(cached).all():
                    return cached
            except (ValueError, OSError, EOFError):
                pass
            path.unlink(missing_ok=True)  # a damaged entry (unreadable, wrong shape, NaN) is recomputed, not trusted
        flow = farneback(frames, self.params, step)
        try:
            atomic_write(path, lambda f: np.save(f, flow.astype(np.float16)))
        except OSError as err:  # a full or read-only cache slows the run down, it does not end it
            import warnings

            warnings.warn(
                f"the flow cache {self.root} cannot be written ({err.strerror or err}); flow is computed without "
                "it: free space there or point VOSGAN_CACHE elsewhere",
                stacklevel=2,
            )
        return flow.astype(np.float16).astype(np.float32)
