"""The clip pipeline: cut videos into fixed-length shots, resize, scale to [-1, 1]."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from einops import rearrange


def cut_shots(frames: np.ndarray, length: int) -> tuple[list[np.ndarray], int]:
    """Cut (N, ...) into ceil(N / length) shots of ``length`` frames.

    The last shot is padded by repeating the final frame; returns the shots and how many frames
    of the last shot are real, so predictions can be trimmed back to N.
    """
    n = len(frames)
    if n == 0:
        raise ValueError("cannot cut an empty video into shots")
    shots = []
    for start in range(0, n, length):
        shot = frames[start : start + length]
        if len(shot) < length:
            shot = np.concatenate([shot, np.repeat(shot[-1:], length - len(shot), 0)])
        shots.append(shot)
    return shots, n - length * (len(shots) - 1)


def resize_frames(frames: np.ndarray, size: int, nearest: bool = False, width: int | None = None) -> np.ndarray:
    """Resize (T, H, W[, C]) to (T, size, width or size[, C]); area filter for images, nearest for id maps."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return np.stack([cv2.resize(f, (width or size, size), interpolation=interpolation) for f in frames])


def to_tensor(frames: np.ndarray, pattern: str = "t h w c -> c t h w") -> torch.Tensor:
    """RGB uint8 -> float in [-1, 1], the generator's tanh range: the one conversion of the kit.
    By default a clip (T, H, W, 3) -> (3, T, H, W); ``pattern`` rearranges otherwise (the peers take
    images, 'b h w c -> b c h w')."""
    return rearrange(torch.from_numpy(np.ascontiguousarray(frames)).float() / 127.5 - 1.0, pattern)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """Float (3, T, H, W) in [-1, 1] -> RGB uint8 (T, H, W, 3)."""
    video = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return rearrange(video, "c t h w -> t h w c").cpu().numpy()


def upsample_maps(maps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear rescaling of per-frame maps (C, T, h, w) to (C, T, height, width), as the paper evaluates."""
    c = maps.shape[0]
    flat = rearrange(maps.float(), "c t h w -> t c h w")
    out = torch.nn.functional.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False)
    return rearrange(out, "t c h w -> c t h w", c=c)
