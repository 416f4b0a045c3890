"""Segmentation throughput: the network alone, each refinement beside it, and ``vosgan segment`` end to
end from the command line.

Writes a seeded DAVIS-layout folder (18 sequences x 40 JPEG frames at 128x96), then prints frames/s of
(1) the network part (resize, shared encoder + motion stream; frames already decoded, maps at the
working size), (2) each refinement alone on those maps (``vosgan.segmentation.refine``: bilinear 'none', the
guided filter, the dense CRF), from the working size to the frames' 128x96, (3) ``segment_path`` in
process with the model's own refinement (decoding, network, refinement, writing PNGs; the command
minus start-up) and (4) ``vosgan segment --input <root> --out <dir>`` as a user types it (interpreter
start, imports, checkpoint, decoding, network, refinement, writing indexed PNGs), one after the other.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from _common import machine

from vosgan.data.io import write_image
from vosgan.data.synthetic import make_clip
from vosgan.models.checkpoint import load_models
from vosgan.segmentation.refine import refine
from vosgan.segmentation.video import dense_maps, prepare_shots, segment_path, timeline

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

        def network() -> list[np.ndarray]:
            batch = torch.cat(shots)
            seg = torch.cat([dense_maps(disc, batch[i : i + 16], False)[0] for i in range(0, len(batch), 16)])
            starts = np.cumsum([0] + [len(s) for s in shots])
            return [timeline(seg[a:b], len(v))[:, 0].numpy() for v, a, b in zip(videos, starts, starts[1:])]

        maps = network()
        t0 = time.perf_counter()
        network()
        t_net = time.perf_counter() - t0
        t_refine = {}
        for method in ("none", "guided", "crf"):
            settings = replace(cfg.segment, refine=method)
            refine(maps[0], videos[0], settings)  # warm
            t0 = time.perf_counter()
            for m, v in zip(maps, videos):
                refine(m, v, settings)
            t_refine[method] = time.perf_counter() - t0
        segment_path(disc, cfg, root, Path(tmp) / "pred0", progress=False)
        t0 = time.perf_counter()
        segment_path(disc, cfg, root, Path(tmp) / "pred0", progress=False, overwrite=True)
        t_call = time.perf_counter() - t0
        command = [sys.executable, "-m", "vosgan.cli.main", "segment", "--checkpoint", str(CHECKPOINT)]
        command += ["--input", str(root), "--out", str(Path(tmp) / "pred"), "--no-progress", "--overwrite"]
        subprocess.run(command, check=True, capture_output=True)  # warm the file cache
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        t_cli = time.perf_counter() - t0
    print(f"{len(videos)} sequences, {total} frames of {size}, {cfg.name} model, batch 16 shots")
    h, w = maps[0].shape[1:]
    print(f"network part (decoded frames in, maps at the working size {w}x{h} out): {total / t_net:7.1f} frames/s")
    for method, seconds in t_refine.items():
        print(f"refinement '{method}' alone ({w}x{h} -> {size}): {total / seconds:7.1f} frames/s")
    print(f"the model's own refinement: {cfg.segment.refine}")
    print(f"segment_path (read, network, write), in process: {total / t_call:7.1f} frames/s ({t_call:.2f} s)")
    print(f"vosgan segment, whole command from the shell: {total / t_cli:7.1f} frames/s ({t_cli:.2f} s)")


if __name__ == "__main__":
    main()
