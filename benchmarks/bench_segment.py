"""Segmentation throughput: frames/s of ``segment_frames`` on a real clip at its original size."""

from __future__ import annotations

from pathlib import Path

import torch
from _common import machine, timed

from vosgan.checkpoint import load_models
from vosgan.data.samples import available_samples, read_sample
from vosgan.data.synthetic import make_clip
from vosgan.segment import segment_frames

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "vosgan-small.pt"


def main() -> None:
    print(machine())
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cfg, _, disc = load_models(CHECKPOINT, device)
    clip = read_sample("bikes.mp4", 96) if "bikes.mp4" in available_samples() else make_clip(0, 96, 256).frames
    for batch in (1, 8):
        t = timed(lambda batch=batch: segment_frames(disc, cfg, clip, batch_size=batch), repeat=2)
        size = f"{clip.shape[2]}x{clip.shape[1]}"
        print(f"{cfg.name} model, {len(clip)} frames of {size}, batch {batch}: {len(clip) / t:7.1f} frames/s")


if __name__ == "__main__":
    main()
