"""The ``vosgan`` command line: ``train``, ``data synth``, ``segment``, ``evaluate``, ``finetune``, ``export``."""

from __future__ import annotations

import argparse
import sys


def _train(args: argparse.Namespace) -> None:
    from vosgan.config import ablation, get_preset
    from vosgan.data.sources import load_dataset
    from vosgan.train import run_training

    cfg = ablation(args.preset, args.ablation) if args.ablation else get_preset(args.preset)
    if args.batch_size:
        cfg = cfg.with_overrides(train={"batch_size": args.batch_size})
    dataset = load_dataset(
        cfg, args.data, args.format, args.split, args.videos, args.seed, args.difficulty, progress=not args.no_progress
    )
    run_training(
        cfg,
        dataset,
        args.out,
        args.iterations,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
        workers=args.workers,
        progress=not args.no_progress,
    )


def _synth(args: argparse.Namespace) -> None:
    from vosgan.data.synthetic import write_benchmark

    out = write_benchmark(args.out, args.videos, args.frames, args.size, args.seed, args.difficulty)
    print(f"wrote {args.videos} videos to {out}")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vosgan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train the GAN (single process, or DDP under torchrun)")
    p.add_argument("--preset", default="small", help="paper, small or tiny")
    p.add_argument(
        "--ablation", default=None, help="a Table 4 row: baseline, +slerp, +lstm, +segmentation, +flow, +alpha"
    )
    p.add_argument("--data", default="synthetic", help="'synthetic' (embedded) or a dataset folder")
    p.add_argument("--format", default="davis", help="davis, segtrack, golf, weizmann, ucf101 or folder")
    p.add_argument("--split", default="train")
    p.add_argument("--videos", type=int, default=1000, help="synthetic benchmark size (all splits)")
    p.add_argument("--difficulty", type=float, default=0.0, help="synthetic camera motion and noise, 0-1")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=None, help="per process; the preset's by default")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, metrics.jsonl, samples/")
    p.add_argument("--resume", action="store_true", help="continue the run folder's checkpoint")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    _add_common(p)
    p.set_defaults(func=_train)

    data = sub.add_parser("data", help="datasets").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("synth", help="write the embedded synthetic benchmark in the DAVIS layout")
    p.add_argument("--out", required=True)
    p.add_argument("--videos", type=int, default=100)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--difficulty", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (FileNotFoundError, FileExistsError, ValueError, KeyError, RuntimeError) as err:
        print(f"vosgan {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
