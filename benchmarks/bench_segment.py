"""Segmentation throughput: the network alone, and ``vosgan segment`` end to end from the command line.

Writes a seeded DAVIS-layout folder (18 sequences x 40 JPEG frames at 128x96), then prints frames/s of
(1) the network part (resize, shared encoder + motion stream, rescaling; frames already decoded) and
(2) ``segment_path`` in process (decoding, network, writing PNGs; the command minus start-up) and
(3) ``vosgan segment --input <root> --out <dir>`` as a user types it (interpreter start, imports,
checkpoint, decoding, network, writing indexed PNGs), one after the other.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import machine

from vosgan.checkpoint import load_models
from vosgan.data.io import write_image
from vosgan.data.synthetic import make_clip
from vosgan.segment import dense_maps, prepare_shots, segment_path, timeline

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "vosgan-small.pt"


def write_folder(root: Path, sequences: int = 18, frames: int = 40) -> list[np.ndarray]:
    videos = []
    for i in range(sequences):
        video = make_clip(i, frames, 128).frames[:, 16:112]  # 128x96 (W x H)
        for t, frame in enumerate(video):
            write_image(root / "JPEGImages" / f"seq{i:02d}" / f"{t:05d}.jpg", frame)
        videos.append(video)
    return videos


def main() -> None:
    print(machine())
    cfg, _, disc = load_models(CHECKPOINT, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "davis"
        videos = write_folder(root)
        total = sum(len(v) for v in videos)
        size = f"{videos[0].shape[2]}x{videos[0].shape[1]}"
        shots = [prepare_shots(v, cfg) for v in videos]

        def network():
            batch = torch.cat(shots)
            seg = torch.cat([dense_maps(disc, batch[i : i + 16], False)[0] for i in range(0, len(batch), 16)])
            start = 0
            for v, s in zip(videos, shots):
                assemble(cfg, seg[start : start + len(s)], None, *v.shape[:3]).masks()
                start += len(s)

        network()
        t0 = time.perf_counter()
        network()
        t_net = time.perf_counter() - t0
        segment_path(disc, cfg, root, Path(tmp) / "pred0", progress=False)
        t0 = time.perf_counter()
        segment_path(disc, cfg, root, Path(tmp) / "pred0", progress=False, overwrite=True)
        t_call = time.perf_counter() - t0
        command = [sys.executable, "-m", "vosgan.cli", "segment", "--checkpoint", str(CHECKPOINT)]
        command += ["--input", str(root), "--out", str(Path(tmp) / "pred"), "--no-progress", "--overwrite"]
        subprocess.run(command, check=True, capture_output=True)  # warm the file cache
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        t_cli = time.perf_counter() - t0
    print(f"{len(videos)} sequences, {total} frames of {size}, {cfg.name} model, batch 16 shots")
    print(f"network part (decoded frames in, masks out):  {total / t_net:7.1f} frames/s")
    print(f"segment_path (read, network, write), in process: {total / t_call:7.1f} frames/s ({t_call:.2f} s)")
    print(f"vosgan segment, whole command from the shell: {total / t_cli:7.1f} frames/s ({t_cli:.2f} s)")


if __name__ == "__main__":
    main()
