"""What the discriminator's segmenter can reach with labels: the same network (shared encoder + motion
stream, a preset's widths) trained from scratch on the ground-truth masks of many rendered clips of the
embedded benchmark's GAN pool (never val or test), scored on the real val split every chunk, with J on
the same clips frozen in time. A GAN recipe cannot teach the segmenter more than this. Prints figures;
asserts nothing.

    python benchmarks/supervised_ceiling.py [--preset small] [--clips 2000] [--steps 6000] [--every 1000]
"""

from __future__ import annotations

import argparse
import json
import time

from _common import machine

from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.synthetic import make_benchmark
from vosgan.device import seed_everything
from vosgan.models import Discriminator
from vosgan.segmentation.evaluation import EVAL_BENCHMARK, RealClips, segmenter_scores
from vosgan.training.finetune import finetune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--clips", type=int, default=2000, help="labelled clips of the GAN pool")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine())
    cfg = get_preset(args.preset)
    seed_everything(args.seed)
    segmenter = Discriminator(cfg)
    # rendered at the benchmark's size, then resized to the working size as every real clip is
    clips = make_benchmark(args.clips, cfg.frames, EVAL_BENCHMARK["size"], args.seed, split="unlabeled")
    dataset = ClipDataset.from_synthetic(clips, cfg.size, progress=False)
    val = RealClips.benchmark("val")
    begin = time.perf_counter()
    for chunk in range(args.steps // args.every):  # a fresh optimiser per chunk (finetune's own)
        finetune(segmenter, dataset, args.every, lr=2e-4, seed=args.seed + chunk, progress=False)
        segmenter.eval()
        scores = {k: round(v, 3) for k, v in segmenter_scores(segmenter, cfg, val).items()}
        print(json.dumps({"step": (chunk + 1) * args.every, "seconds": round(time.perf_counter() - begin), **scores}))


if __name__ == "__main__":
    main()
