"""Training throughput per preset, batch size and precision: seconds per step, clips/s, the share of a
step spent in optical flow, forward FLOPs achieved next to the measured fp32 and bf16 matmul peaks, and
the bf16 step's speed-up over fp32 in the same run. The shipped model's recipe is timed beside the preset's,
and once more with its upsampling rows run as their listed layers (upsampling, then convolution) instead
of ``upsampled_conv3d``'s phase form."""

from __future__ import annotations

import argparse
import statistics

import torch
from _common import machine, timed

from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.synthetic import make_benchmark
from vosgan.models.blocks import ConvRow
from vosgan.models.latent import sample_latents
from vosgan.models.summary import count_flops
from vosgan.training.distributed import DistInfo
from vosgan.training.trainer import Trainer


def matmul_peak(
    device: torch.device, dtype: torch.dtype = torch.float32, sizes=(1024, 2048, 3072), repeat: int = 5
) -> float:
    """The best matmul rate in ``dtype`` over a few sizes, each the best of ``repeat`` timed runs after a
    warm-up (a single 2048 product, timed three times, read below what the paper preset itself reached)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        t = timed(lambda a=a, b=b: (a @ b, torch.cuda.synchronize() if device.type == "cuda" else None), repeat)
        best = max(best, 2 * n**3 / t)
    return best


# The shipped model's training options (checkpoints/README.md), beside the preset's plain recipe.
SHIPPED = {
    "generator": {"upsampling": "resize", "motion_layer": "velocity", "sprite": True},
    "train": {"g_steps": 2, "ema_d": 0.998},
    "loss": {
        "mask_prior": 10.0,
        "mask_area": 0.06,
        "mask_binary": 1.0,
        "mode_seeking": 0.2,
        "balanced_segmentation": True,
        "compactness": 1.0,
        "segmentation_weight": 10.0,
        "flow_loss": "epe",
    },
    "augment": {"diffaugment": "color,translation,cutout"},
}


def make_trainer(name: str, batch: int, device: torch.device, precision: str, recipe: str, literal: bool) -> Trainer:
    """A warmed-up trainer; ``literal`` runs the upsampling rows as listed (upsampling, then convolution)."""
    overrides = SHIPPED if recipe == "shipped" else {}
    cfg = get_preset(name).with_overrides(**overrides)
    cfg = cfg.with_overrides(train={"batch_size": batch, "precision": precision})
    clips = make_benchmark(batch * 2, cfg.frames, cfg.size, seed=0)
    trainer = Trainer(cfg, ClipDataset.from_synthetic(clips, cfg.size, progress=False), DistInfo.single(device), seed=0)
    for row in trainer.G.modules():
        if literal and isinstance(row, ConvRow):
            row.upsampled_3d = False
    trainer.fit(1, progress=False)  # warm-up
    return trainer


def bench(name: str, batch: int, steps: int, device: torch.device, variants: dict[str, tuple]) -> dict[str, float]:
    """Time ``variants`` (label -> (precision, recipe, literal)) by alternating single steps between them,
    so that every variant sees the same machine (a shared CPU drifts by 20% within minutes); print a
    line per variant and return each one's median seconds per step."""
    trainers = {label: make_trainer(name, batch, device, *v) for label, v in variants.items()}
    rows = {label: [] for label in trainers}
    for _ in range(steps):
        for label, trainer in trainers.items():
            rows[label] += trainer.fit(trainer.step + 1, progress=False)
    medians = {}
    for label, trainer in trainers.items():
        seconds = statistics.median(r["seconds"] for r in rows[label])
        flow = statistics.median(r["flow_seconds"] for r in rows[label])
        cfg = trainer.cfg
        z = sample_latents(cfg, batch)
        # Forward work of one step: G twice (D step, G step), D three times (real, fake, G step).
        fwd = 2 * count_flops(trainer.G, *z) + 3 * count_flops(
            trainer.D, torch.zeros(batch, 3, cfg.frames, cfg.size, cfg.size)
        )
        print(
            f"{name:<6} {label:<22} batch {batch:>3}: {seconds:7.2f} s/step  "
            f"{batch / seconds:7.1f} clips/s  flow {100 * flow / seconds:4.1f}% of the step  "
            f"forward {fwd / seconds / 1e9:7.1f} GFLOP/s",
            flush=True,
        )
        medians[label] = seconds
    return medians


def main() -> None:
    from vosgan.device import cpu_has_bf16

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--paper-batch", type=int, default=2, help="the paper preset is slow on a CPU")
    p.add_argument("--paper-steps", type=int, default=4, help="timed steps per variant of the paper preset")
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant (the median is printed)")
    p.add_argument("--only", default=None, help="one preset: tiny, small or paper")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(machine())
    bf16 = device.type == "cuda" or cpu_has_bf16()
    peaks = {"fp32": matmul_peak(device)} | ({"bf16": matmul_peak(device, torch.bfloat16)} if bf16 else {})
    print("matmul peak: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in peaks.items()))
    if not bf16:
        print("this CPU has no native bf16 (AVX512-BF16 or AMX): --precision auto trains in fp32 here")
    print("median seconds per step; the variants of a preset take turns, one step each")
    for name, batch, steps, recipe in (
        ("tiny", 16, args.steps, "preset"),
        ("small", 16, args.steps, "preset"),
        ("small", 16, args.steps, "shipped"),
        ("paper", args.paper_batch, args.paper_steps, "preset"),
    ):
        if args.only and name != args.only:
            continue
        variants = {f"{recipe} {p}": (p, recipe, False) for p in peaks}
        if recipe == "shipped":  # the upsampling rows both ways
            variants |= {f"{recipe} as listed {p}": (p, recipe, True) for p in peaks}
        t = bench(name, batch, steps, device, variants)
        if bf16:
            ratio = t[f"{recipe} fp32"] / t[f"{recipe} bf16"]
            print(f"{name:<6} {recipe:<22} batch {batch:>3}: bf16 step {ratio:.2f}x faster than fp32")
        if recipe == "shipped":
            for p in peaks:
                gain = t[f"{recipe} as listed {p}"] / t[f"{recipe} {p}"]
                print(f"{name:<6} {recipe + ' ' + p:<22} batch {batch:>3}: phase-form upsampling {gain:.2f}x faster")


if __name__ == "__main__":
    main()
