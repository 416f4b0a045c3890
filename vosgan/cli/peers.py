"""``vosgan train-peer`` (CIS, FaSTGAN) and ``vosgan compare`` (registered by ``vosgan.cli.main.build_parser``)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from vosgan.config import REFINEMENTS
from vosgan.paths import CIS_CHECKPOINT, CIS_FARNEBACK_CHECKPOINT, FASTGAN_CHECKPOINT, SHIPPED

DEFAULT_CHECKPOINTS = {
    "VOS-GAN (small)": str(SHIPPED),
    "CIS (small)": str(CIS_CHECKPOINT),
    "CIS, switches not in the paper (small)": str(CIS_FARNEBACK_CHECKPOINT),
    "FaSTGAN (small)": str(FASTGAN_CHECKPOINT),
}


CIS_FLAGS = (
    "ideal",
    "hard_mask",
    "sampled_mask",
    "direct_gradient",
    "score_gradient",
    "epsilon_area",
    "inpainter_levels",
    "coarse_block",
    "coarse_steps",
    "threshold_cell",
    "logit_scale",
    "grad_clip",
    "ema",
)  # train-peer's CIS-only


def cis_options(args: argparse.Namespace) -> list[str]:
    """The CIS-only options given on the command line (a 0 counts as given; an unset switch does not)."""
    return [k for k in CIS_FLAGS if getattr(args, k) is not None and getattr(args, k) is not False]


def make_trainer(args: argparse.Namespace):
    """The trainer ``args`` describe, on its training videos (the split's frames; FaSTGAN also its masks)."""
    from vosgan.device import resolve_device
    from vosgan.peers.common import training_videos

    device = resolve_device(args.device)
    common = {"iterations": args.iterations, "batch_size": args.batch_size, "lr": args.lr}
    if args.method == "cis":
        from vosgan.peers.cis import CISTrainer, cis_config

        switches = {k: getattr(args, k) for k in cis_options(args)}  # the rest: the preset's
        cfg = cis_config(args.preset, **switches, **common)
        videos = training_videos(args.data, args.split, cfg.size, need_masks=cfg.ideal, fmt=args.format)
        return CISTrainer(cfg, videos, args.seed, device)
    from vosgan.peers.fastgan import FaSTGANTrainer, fastgan_config

    cfg = fastgan_config(args.preset, args.ablation, pretrain=args.pretrain, **common)
    videos = training_videos(args.data, args.split, cfg.size, need_masks=True, fmt=args.format)
    return FaSTGANTrainer(cfg, videos, args.seed, device)


def _train_peer(args: argparse.Namespace) -> int:
    from vosgan.peers.common import train_peer
    from vosgan.training.runs import prepare_run_folder

    cis_only = [f"--{k.replace('_', '-')}" for k in cis_options(args)]
    if cis_only and args.method != "cis":
        raise ValueError(f"{' '.join(cis_only)}: CIS's options; they do not apply to --method {args.method}")
    prepare_run_folder(Path(args.out), args.resume)  # a bad --out fails before the data is read
    trainer = make_trainer(args)
    train_peer(trainer, trainer.cfg.iterations, args.out, args.resume, args.checkpoint_every, not args.no_progress)
    path = Path(args.out) / "checkpoint.pt"
    print(f"{args.method}: {trainer.step} steps in {trainer.train_seconds:.0f} s; wrote {path}")
    if trainer.stop_signal is not None:  # pre-empted: 128 + the signal, as `vosgan train` exits
        name = signal.Signals(trainer.stop_signal).name
        print(f"stopped by {name} at step {trainer.step}; continue with the same command and --resume")
        return 128 + trainer.stop_signal
    return 0


def parse_checkpoints(items: list[str] | None) -> dict[str, str]:
    """``LABEL=PATH`` pairs (or bare paths, labelled by file name); the shipped checkpoints by default."""
    if not items:
        found = {k: v for k, v in DEFAULT_CHECKPOINTS.items() if Path(v).is_file()}
        if not found:
            raise FileNotFoundError("no --checkpoint given and none of the shipped checkpoints exists here")
        return found
    pairs = {}
    for item in items:
        label, _, path = item.rpartition("=") if "=" in item else (Path(item).stem, "", item)
        if not Path(path).is_file():
            raise FileNotFoundError(f"--checkpoint {item}: {path} does not exist")
        pairs[label or Path(path).stem] = path
    return pairs


def _compare(args: argparse.Namespace) -> int:
    from vosgan.device import resolve_device
    from vosgan.experiments.compare import compare

    baselines = tuple(b for b in args.baselines.split(",") if b)
    result = compare(
        parse_checkpoints(args.checkpoint),
        args.out,
        args.data,
        args.split,
        args.format,
        baselines,
        resolve_device(args.device),
        not args.no_progress,
        None if args.refine == "model" else args.refine,
        args.difficulty,
    )
    camera = f", camera motion {result.difficulty:g}" if result.difficulty else ""
    print(f"{result.sequences} sequences of {result.data} ({result.split}{camera}); binary J and F on frames 1..N-2")
    print(result.markdown())
    print(f"wrote {Path(args.out) / 'comparison.md'} and comparison.json")
    if result.failed:  # a table that silently leaves sequences out is not a result: say so, and exit 1
        print(f"vosgan compare: {result.failed} sequence(s) could not be segmented (see the table)", file=sys.stderr)
        return 1
    return 0


def add_peer_parsers(sub, add_common, positive_int) -> None:
    p = sub.add_parser("train-peer", help="train a peer method (CIS: no labels; FaSTGAN: train masks)")
    p.add_argument(
        "--method", required=True, choices=("cis", "fastgan"), help="cis (no labels) or fastgan (train masks)"
    )
    p.add_argument("--preset", default="small", help="small (64x64) or tiny (32x32, for tests)")
    p.add_argument("--ablation", default="both", help="FaSTGAN's Table 1 row: ce, +spatial, +temporal, both")
    p.add_argument("--ideal", action="store_true", help="CIS's Table 1: flow replaced by independent constant fields")
    for flag, text in (
        ("--hard-mask", "CIS: binary masks, straight-through gradient (not in the paper)"),
        ("--sampled-mask", "CIS, with --hard-mask: masks sampled from chi per pixel (not in the paper)"),
        ("--direct-gradient", "CIS, with --hard-mask: gradient through Eq. 9's weights only (not in the paper)"),
        ("--score-gradient", "CIS, with --sampled-mask: score-function gradient, per-pixel rewards (not in the paper)"),
    ):
        p.add_argument(flag, action="store_true", help=text)
    p.add_argument("--epsilon-area", type=float, default=None, help="CIS: extra epsilon, a fraction of the pixels")
    p.add_argument(
        "--inpainter-levels", type=int, default=None, help="CIS: stride-2 levels below the inpainter's 1/4 features"
    )
    p.add_argument("--coarse-block", type=int, default=None, help="CIS: masks start in cells of this many pixels")
    p.add_argument("--coarse-steps", type=int, default=None, help="CIS: generator steps per halving of the cells")
    p.add_argument(
        "--threshold-cell", type=int, default=None, help="CIS, with --sampled-mask: a smooth threshold on cells of N px"
    )
    p.add_argument("--logit-scale", type=float, default=None, help="CIS: the generator's logits times this")
    p.add_argument("--grad-clip", type=float, default=None, help="CIS: clip each gradient entry to this (0: off)")
    p.add_argument("--ema", type=float, default=None, help="CIS: evaluate an EMA of the generator, this decay")
    p.add_argument("--iterations", type=positive_int, default=None, help="the preset's by default")
    p.add_argument("--pretrain", type=positive_int, default=None, help="FaSTGAN's CE-only steps before the critics")
    p.add_argument("--batch-size", type=positive_int, default=None, help="clips per step (default: the preset's)")
    p.add_argument("--lr", type=float, default=None, help="CIS: the mask generator's; FaSTGAN: both networks'")
    p.add_argument("--data", default="synthetic", help="'synthetic' (the embedded benchmark) or a dataset folder")
    p.add_argument("--format", default="davis", help="davis or segtrack (with --data PATH)")
    p.add_argument("--split", default="train", help="the split to train on")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, metrics.jsonl")
    p.add_argument("--resume", action="store_true", help="continue the run folder's checkpoint exactly")
    p.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (0: only at the end)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_common(p)
    p.set_defaults(func=_train_peer)

    p = sub.add_parser("compare", help="every method and baseline on one dataset: one table of J, F, speed, size")
    p.add_argument("--checkpoint", action="append", help="LABEL=PATH, repeatable (default: the shipped checkpoints)")
    p.add_argument("--data", default="synthetic", help="'synthetic' (embedded benchmark) or a DAVIS/SegTrack-v2 root")
    p.add_argument("--format", default="davis", help="davis or segtrack")
    p.add_argument("--split", default="test", help="the split to score (choose on val, report on test)")
    p.add_argument("--baselines", default="flow,median", help="comma-separated; empty for none")
    p.add_argument(
        "--refine",
        choices=("model", *REFINEMENTS),
        default="model",
        help="every method's and baseline's refinement (default model: each checkpoint's own, baselines none)",
    )
    p.add_argument(
        "--difficulty",
        type=float,
        default=0.0,
        help="synthetic data: camera pan, zoom and noise in [0, 1] (0: the static-camera benchmark; 1: the "
        "camera-motion split)",
    )
    p.add_argument("--out", required=True, help="folder: masks/<method>/, truth/, comparison.md, comparison.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_common(p)
    p.set_defaults(func=_compare)
