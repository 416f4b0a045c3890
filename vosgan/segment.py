"""Segment any video with the discriminator's motion stream (Sect. 4.1.2).

A video of any length and resolution is resized to the preset's frame size, cut into shots of
the preset's length (the last one padded, then trimmed back), passed through the shared encoder
and the motion stream, and the maps are rescaled bilinearly to the original size, as the paper
evaluates. Writes DAVIS-layout masks; optionally the soft maps and the predicted flow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from tqdm.auto import tqdm

from vosgan.config import VOSGANConfig
from vosgan.data.clips import cut_shots, resize_frames, to_tensor, upsample_maps
from vosgan.data.flow import target_to_flow
from vosgan.data.io import write_indexed_png
from vosgan.data.readers import Sequence, read_davis, read_folder
from vosgan.device import autocast
from vosgan.models import Discriminator


@dataclass
class Segmentation:
    """Per-frame outputs at the video's original size."""

    probabilities: np.ndarray  # (N, H, W) float32 in [0, 1]
    flow: np.ndarray | None  # (N, H, W, 2) float32 pixels at the original scale, when asked for

    def masks(self, threshold: float = 0.5) -> np.ndarray:
        """Object ids (N, H, W) uint8: 1 where the foreground probability exceeds ``threshold``."""
        return (self.probabilities > threshold).astype(np.uint8)


@torch.no_grad()
def segment_frames(
    discriminator: Discriminator,
    cfg: VOSGANConfig,
    frames: np.ndarray,
    batch_size: int = 8,
    with_flow: bool = False,
) -> Segmentation:
    """Segment RGB uint8 frames (N, H, W, 3) of one video."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected RGB frames (N, H, W, 3), got shape {frames.shape}")
    n, height, width = frames.shape[:3]
    device = next(discriminator.parameters()).device
    shots, _ = cut_shots(resize_frames(frames, cfg.size), cfg.frames)
    seg, flow = [], []
    discriminator.eval()
    for start in range(0, len(shots), batch_size):
        video = torch.stack([to_tensor(s) for s in shots[start : start + batch_size]]).to(device)
        with autocast(device):
            dense = discriminator.dense(video).float()
        seg.append(torch.sigmoid(dense[:, :1]).cpu())
        if with_flow:
            flow.append(torch.sigmoid(dense[:, 1:]).cpu())
    # Shots back to one timeline, trimmed to the real frames, rescaled to the original size.
    seg = rearrange(torch.cat(seg), "s c t h w -> c (s t) h w")[:, :n]
    probabilities = upsample_maps(seg, height, width)[0].clamp(0, 1).numpy()
    out_flow = None
    if with_flow:
        pixels = target_to_flow(
            rearrange(torch.cat(flow), "s c t h w -> c (s t) h w")[:, :n], cfg.loss.flow_max_fraction
        )
        pixels = upsample_maps(pixels, height, width)
        scale = torch.tensor([width / cfg.size, height / cfg.size]).reshape(2, 1, 1, 1)
        out_flow = rearrange(pixels * scale, "c t h w -> t h w c").numpy()
    return Segmentation(probabilities.astype(np.float32), out_flow)


def input_sequences(path: str | os.PathLike) -> list[Sequence]:
    """A video file, a folder of frames, a folder of videos, or a DAVIS root (``JPEGImages/``)."""
    path = Path(path)
    if (path / "JPEGImages").is_dir():
        return read_davis(path)
    return read_folder(path)


def write_segmentation(out: Path, name: str, result: Segmentation, threshold: float = 0.5, soft: bool = False) -> None:
    """``out/<name>/00000.png`` masks (id 1 = foreground); soft maps as ``out/_soft/<name>.npy``
    (float16, (N, H, W)); flow as ``out/_flow/<name>.npy`` (float16, (N, H, W, 2) pixels)."""
    for t, mask in enumerate(result.masks(threshold)):
        write_indexed_png(out / name / f"{t:05d}.png", mask)
    if soft:
        (out / "_soft").mkdir(parents=True, exist_ok=True)
        np.save(out / "_soft" / f"{name}.npy", result.probabilities.astype(np.float16))
    if result.flow is not None:
        (out / "_flow").mkdir(parents=True, exist_ok=True)
        np.save(out / "_flow" / f"{name}.npy", result.flow.astype(np.float16))


def segment_path(
    discriminator: Discriminator,
    cfg: VOSGANConfig,
    input_path: str | os.PathLike,
    out: str | os.PathLike,
    batch_size: int = 8,
    threshold: float = 0.5,
    soft: bool = False,
    with_flow: bool = False,
    progress: bool = True,
) -> list[str]:
    """Segment every sequence under ``input_path`` into ``out`` (DAVIS layout); returns the names."""
    out = Path(out)
    names = []
    for seq in tqdm(input_sequences(input_path), desc="segmenting", disable=not progress):
        result = segment_frames(discriminator, cfg, seq.read_frames(), batch_size, with_flow)
        write_segmentation(out, seq.name, result, threshold, soft)
        names.append(seq.name)
    return names
