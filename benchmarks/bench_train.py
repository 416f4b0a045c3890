"""Training throughput per preset and batch size: seconds per step, clips/s, the share of a step
spent in optical flow, and forward FLOPs achieved next to a measured matmul peak."""

from __future__ import annotations

import argparse

import torch
from _common import machine, timed

from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.synthetic import make_benchmark
from vosgan.distributed import DistInfo
from vosgan.latent import sample_latents
from vosgan.models.summary import count_flops
from vosgan.train import Trainer


def matmul_peak(device: torch.device, sizes=(1024, 2048, 3072), repeat: int = 5) -> float:
    """The best fp32 matmul rate over a few sizes, each the best of ``repeat`` timed runs after a warm-up
    (a single 2048 product, timed three times, read below what the paper preset itself reached)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        t = timed(lambda a=a, b=b: (a @ b, torch.cuda.synchronize() if device.type == "cuda" else None), repeat)
        best = max(best, 2 * n**3 / t)
    return best


def bench(name: str, batch: int, steps: int, device: torch.device) -> None:
    cfg = get_preset(name).with_overrides(train={"batch_size": batch})
    clips = make_benchmark(batch * 2, cfg.frames, cfg.size, seed=0)
    trainer = Trainer(cfg, ClipDataset.from_synthetic(clips, cfg.size, progress=False), DistInfo.single(device), seed=0)
    trainer.fit(1, progress=False)  # warm-up
    rows = trainer.fit(1 + steps, progress=False)
    seconds = min(r["seconds"] for r in rows)
    flow = min(r["flow_seconds"] for r in rows)
    z = sample_latents(cfg, batch)
    # Forward work of one step: G twice (D step, G step), D three times (real, fake, G step).
    fwd = 2 * count_flops(trainer.G, *z) + 3 * count_flops(
        trainer.D, torch.zeros(batch, 3, cfg.frames, cfg.size, cfg.size)
    )
    print(
        f"{name:<6} batch {batch:>3}: {seconds:7.2f} s/step  {batch / seconds:7.1f} clips/s  "
        f"flow {100 * flow / seconds:4.1f}% of the step  forward {fwd / seconds / 1e9:7.1f} GFLOP/s"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--paper-batch", type=int, default=2, help="the paper preset is slow on a CPU")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(machine())
    print(f"measured fp32 matmul peak: {matmul_peak(device) / 1e9:.1f} GFLOP/s")
    for name, batch, steps in (
        ("tiny", 4, 3),
        ("tiny", 16, 3),
        ("small", 8, 3),
        ("small", 16, 3),
        ("paper", args.paper_batch, 1),
    ):
        bench(name, batch, steps, device)


if __name__ == "__main__":
    main()
