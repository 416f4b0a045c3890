"""CIS in ideal conditions: Eq. 9 (the run's epsilon) scored by a run's own trained inpainter for the
generator's masks (drawn from chi, as in training) and for the true masks, on the same train batches.
A generator stuck at a local optimum scores far below the true masks. Prints figures; asserts nothing.

    python benchmarks/cis_separation.py runs/cis-ideal-st/checkpoint.pt [--batches 8] [--seed 7]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from einops import rearrange

from vosgan.models.checkpoint import load_checkpoint
from vosgan.peers import cis
from vosgan.peers.common import training_videos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    state = load_checkpoint(args.checkpoint)
    cfg = cis.CISConfig(**state["config"])
    if not cfg.ideal:
        raise SystemExit(f"{args.checkpoint} was not trained in ideal conditions (--ideal)")
    videos = training_videos("synthetic", "train", cfg.size, need_masks=True)
    trainer = cis.CISTrainer(cfg, videos, args.seed)
    trainer.load_state_dict(state)
    trainer.generator.eval(), trainer.inpainter.eval()
    rng, gen = np.random.default_rng(args.seed), torch.Generator().manual_seed(args.seed)
    scores = {"generator": [], "true masks": []}
    with torch.no_grad():
        for _ in range(args.batches):  # the training batches' sampler: frames, ideal flow and its masks
            image, flow, masks = cis.sample_batch(videos, cfg, rng)
            flow = cis.normalise_flow(flow, cfg.flow_floor)
            chi = trainer.generator.probability(image, flow)
            scores["generator"].append(trainer.separation(image, flow, chi, gen).item())
            true = rearrange(torch.from_numpy(masks > 0).float(), "b h w -> b 1 h w")
            scores["true masks"].append(trainer.separation(image, flow, true, gen).item())
    for name, values in scores.items():
        print(f"Eq. 9 with {name}: {np.mean(values):.3f} (sd {np.std(values):.3f} over {args.batches} batches)")


if __name__ == "__main__":
    main()
