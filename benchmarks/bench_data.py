"""Data pipeline throughput: rendering the benchmark, loading shots with cold and warm flow caches,
and the per-step Farneback cost for a batch of generated clips. Prints figures; asserts nothing."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from _common import machine, timed

from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.flow import FlowCache, batch_flow
from vosgan.data.readers import read_davis
from vosgan.data.synthetic import make_clip, write_benchmark


def main() -> None:
    print(machine())
    n = 20
    t = timed(lambda: [make_clip(i, 32, 64) for i in range(n)], repeat=1)
    print(f"render synthetic clips (32 frames, 64x64):      {n / t:8.1f} clips/s")
    with tempfile.TemporaryDirectory() as tmp:
        root = write_benchmark(Path(tmp) / "bench", videos=n, frames=32, size=128, progress=False)
        sequences = read_davis(root)
        cfg = get_preset("paper")
        for label in ("no flow cache (in-memory flow)", "cold disk cache (compute + write)", "warm disk cache (read)"):
            cache = None if label.startswith("no") else FlowCache(Path(tmp) / "cache")
            t0 = time.perf_counter()
            ds = ClipDataset.from_sequences(sequences, cfg.size, cfg.frames, flow_cache=cache, progress=False)
            items = [ds[i] for i in range(len(ds))]
            dt = time.perf_counter() - t0
            print(f"load 128px JPEG shots -> 64x64 + flow, {label:<34} {len(items) / dt:8.1f} clips/s")
    for name in ("small", "paper"):
        cfg = get_preset(name)
        video = torch.rand(16, 3, cfg.frames, cfg.size, cfg.size) * 2 - 1
        t = timed(lambda video=video: batch_flow(video))
        print(f"Farneback on a generated batch of 16 ({name}, {cfg.frames}x{cfg.size}x{cfg.size}): {t:6.3f} s per step")


if __name__ == "__main__":
    main()
