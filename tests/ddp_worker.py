"""Launched by test_train.py under torchrun: train a few DDP steps, then report each replica's weights."""

import json
import os
import sys

import torch
import torch.distributed as dist

from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.synthetic import make_benchmark
from vosgan.training.distributed import cleanup_distributed, setup_distributed
from vosgan.training.trainer import Trainer

cfg = get_preset("tiny").with_overrides(train={"batch_size": 2})
info = setup_distributed("cpu")
dataset = ClipDataset.from_synthetic(make_benchmark(12, cfg.frames, cfg.size, seed=0), cfg.size, progress=False)
trainer = Trainer(cfg, dataset, info, seed=0)
history = trainer.fit(3, progress=False)
sums = torch.tensor([sum(p.detach().double().sum() for p in m.parameters()) for m in (trainer.G, trainer.D)])
gathered = [torch.zeros_like(sums) for _ in range(info.world_size)]
dist.all_gather(gathered, sums)
if info.is_main:
    json.dump(
        {"sums": [g.tolist() for g in gathered], "steps": trainer.step, "losses": [h["d_loss"] for h in history]},
        open(sys.argv[1], "w"),
    )
cleanup_distributed()
# Leave without running C++ static destructors: once in about a dozen runs gloo's threads aborted the
# process at interpreter exit ("terminate called without an active exception"), after the report was
# written and the process group was destroyed; the test is about the replicas, not the teardown.
sys.stdout.flush()
os._exit(0)
