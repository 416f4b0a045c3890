"""Training steps when another process shares the cores: thread count and OpenMP wait policy.

Each setting runs in its own process (OpenMP reads its environment when torch loads): ``small``
batch 16 for a few steps, median seconds per step, alone and next to a competitor (a one-thread
matrix-multiply loop, like a notebook or a test suite beside a training run).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

WORKER = """
import statistics, torch
from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.synthetic import make_benchmark
from vosgan.training.distributed import DistInfo
from vosgan.training.trainer import Trainer
cfg = get_preset("small")
data = ClipDataset.from_synthetic(make_benchmark(32, cfg.frames, cfg.size, seed=0), cfg.size, progress=False)
trainer = Trainer(cfg, data, DistInfo.single(torch.device("cpu")), seed=0)
rows = trainer.fit(STEPS, progress=False)
print(statistics.median(r["seconds"] for r in rows[1:]))
"""

COMPETITOR = "import torch; torch.set_num_threads(1); a = torch.randn(512, 512)\nwhile True: a @ a"

SETTINGS = {
    "2 threads, default wait policy": {"OMP_NUM_THREADS": "2"},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
}


def step_seconds(env: dict[str, str], steps: int = 6) -> float:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "VOSGAN_THREADS")}
    code = WORKER.replace("STEPS", str(steps))
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"{os.cpu_count()} cores; small preset, batch 16, median s/step over 5 steps")
    for name, env in SETTINGS.items():
        alone = step_seconds(env)
        competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR])
        try:
            time.sleep(1.0)
            shared = step_seconds(env)
        finally:
            competitor.kill()
            competitor.wait()
        print(f"{name:<36} alone {alone:6.2f}   beside a busy process {shared:6.2f}  ({shared / alone:4.1f}x)")
    _ = statistics  # noqa: F841 (used by the worker)


if __name__ == "__main__":
    main()
