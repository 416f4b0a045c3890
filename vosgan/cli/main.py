"""vosgan: train VOS-GAN, segment videos with its discriminator, evaluate them as DAVIS does, compare
with the peer methods and reproduce the papers' experiments. `vosgan COMMAND --help` lists a command's
options with their defaults."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from vosgan.config import MAX_GLIDE, MAX_SHIFT, REFINEMENTS


def number(kind: type, low: float | None = None, high: float | None = None, open_low=False, open_high=False):
    """An argparse type: ``kind`` (int or float) within [low, high] (open ends where asked), so a bad
    value is refused at the parser with the option's name and its valid range."""
    lo = "" if low is None else f"{'>' if open_low else '>='} {low}"
    hi = "" if high is None else f"{'<' if open_high else '<='} {high}"
    wanted = f"{'an integer' if kind is int else 'a number'} {' and '.join(filter(None, (lo, hi)))}".strip()

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        bad = (
            not math.isfinite(value)
            or (low is not None and (value <= low if open_low else value < low))
            or (high is not None and (value >= high if open_high else value > high))
        )
        if bad:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def printable(text: str) -> str:
    """``text`` safe to print: bytes of a non-UTF-8 file name (surrogate-escaped) shown as \\xNN."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


POSITIVE_INT, COUNT = number(int, 1), number(int, 0)
NONNEGATIVE, POSITIVE, FRACTION = number(float, 0), number(float, 0, open_low=True), number(float, 0, 1)


def _training_split(args: argparse.Namespace) -> str:
    """``--split``, or the GAN's training data: the unlabeled pool of the synthetic data, else 'train'."""
    return args.split or ("unlabeled" if args.data == "synthetic" else "train")


def _train(args: argparse.Namespace) -> int:
    from vosgan.config import build_config
    from vosgan.data.sources import load_dataset
    from vosgan.training.runs import prepare_run_folder, run_training

    cfg = build_config(args.preset, args.ablation, _overrides(args))
    prepare_run_folder(Path(args.out), args.resume)  # before the data: a bad --out fails in a second, not minutes
    split = _training_split(args)
    dataset = load_dataset(
        cfg, args.data, args.format, split, args.videos, args.seed, args.difficulty, progress=not args.no_progress
    )
    trainer = run_training(
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
        evaluate_every=args.evaluate_every,
        threads=args.threads or None,
        init=args.init,
    )
    if trainer.stop_signal is not None:  # pre-empted: a non-zero exit, so a job scheduler sees it unfinished
        return 128 + trainer.stop_signal
    if trainer.is_main:
        print(
            f"trained to step {trainer.step} ({trainer.train_seconds:.0f} s in training steps, {trainer.precision}); "
            f"checkpoint: {Path(args.out) / 'checkpoint.pt'} (metrics.jsonl and samples/ beside it)"
        )
    return 0


# Training options that override a preset: (flag, section, field, type, help). Every one maps to a
# config field; the preset's value is kept when a flag is not given.
TRAIN_OPTIONS = (
    ("--batch-size", "train", "batch_size", POSITIVE_INT, "per process"),
    ("--lr", "train", "lr", POSITIVE, "learning rate of both networks (paper: 2e-4)"),
    ("--lr-g", "train", "lr_g", POSITIVE, "generator learning rate (default: --lr)"),
    ("--lr-d", "train", "lr_d", POSITIVE, "discriminator learning rate (default: --lr)"),
    ("--g-steps", "train", "g_steps", POSITIVE_INT, "generator updates per discriminator update (paper: 1)"),
    ("--ema", "train", "ema", number(float, 0, 1, open_high=True), "decay of an EMA copy of G, e.g. 0.999"),
    ("--ema-d", "train", "ema_d", number(float, 0, 1, open_high=True), "decay of an EMA copy of D, e.g. 0.999"),
    ("--working-size", "segment", "working_size", COUNT, "height real clips are segmented at (0: the preset's)"),
    ("--bn-clips", "train", "bn_clips", COUNT, "real clips D's BatchNorm statistics are recomputed on to evaluate"),
    ("--mask-prior", "loss", "mask_prior", NONNEGATIVE, "weight of the per-frame mask prior"),
    ("--mask-area", "loss", "mask_area", FRACTION, "mask area the prior pulls to (0: VGAN's L1)"),
    ("--mask-binary", "loss", "mask_binary", NONNEGATIVE, "weight of the prior's crispness term"),
    ("--mode-seeking", "loss", "mode_seeking", NONNEGATIVE, "weight of MSGAN's mode-seeking term on the mask"),
    ("--flow-weight", "loss", "flow_weight", NONNEGATIVE, "multiplies alpha in Eq. 2 (paper: 1)"),
    (
        "--flow-max-fraction",
        "loss",
        "flow_max_fraction",
        number(float, 0, 1, open_low=True),
        "flow (share of the width per frame) mapped to the sigmoid's edge (1/8 by default)",
    ),
    ("--flow-loss", "loss", "flow_loss", str, "mse (Eq. 2, in the [0, 1] range) or epe (pixels per frame)"),
    ("--segmentation-weight", "loss", "segmentation_weight", NONNEGATIVE, "multiplies Eq. 2's segmentation NLL"),
    ("--gan", "loss", "gan", str, "standard (Eq. 2-3) or hinge"),
    ("--r1", "loss", "r1", NONNEGATIVE, "gamma of the R1 penalty on real clips"),
    ("--area-hinge", "loss", "area_hinge", NONNEGATIVE, "weight of the per-clip two-sided mask-area hinge"),
    ("--area-min", "loss", "area_min", FRACTION, "lower end of the area hinge"),
    ("--area-max", "loss", "area_max", FRACTION, "upper end of the area hinge"),
    ("--binarize", "loss", "binarize", NONNEGATIVE, "weight of mean(min(m, 1 - m))"),
    ("--compactness", "loss", "compactness", NONNEGATIVE, "weight of the masks' normalised moment of inertia"),
    (
        "--shift",
        "augment",
        "shift",
        number(float, 0, MAX_SHIFT),
        "random shift of foreground and mask, share of the size",
    ),
    ("--glide", "augment", "glide", number(float, 0, MAX_GLIDE), "foreground glide speed, share of the size per frame"),
    ("--diffaugment", "augment", "diffaugment", str, "DiffAugment policies, e.g. color,translation,cutout"),
    ("--real-background", "augment", "real_background", FRACTION, "share of fakes pasted on a real clip's median"),
    ("--static-decoy", "augment", "static_decoy", FRACTION, "share of D's fakes with a still copy of the object"),
    ("--camouflage", "augment", "camouflage", FRACTION, "share of D's fakes whose object wears the background"),
    ("--upsampling", "generator", "upsampling", str, "transposed (paper) or resize (upsample + 3x3 conv)"),
    ("--mask-bias", "generator", "mask_bias", number(float), "initial bias of the mask head"),
    ("--motion-layer", "generator", "motion_layer", str, "none (paper), velocity or steps: z_M moves the object"),
    (
        "--motion-speed",
        "generator",
        "motion_speed",
        number(float, 0, 0.25, open_low=True),
        "the motion layer's top speed per axis, share of the side per frame",
    ),
    (
        "--precision",
        "train",
        "precision",
        str,
        "auto (bf16 on CUDA and on CPUs with native bf16, fp32 elsewhere), fp32 or bf16",
    ),
)


# on/off options of `vosgan train` (off in every preset): flag, config section, field, help
TRAIN_SWITCHES = (
    ("--mode-seeking-motion", "loss", "mode_seeking_motion", "mode-seeking pairs share z_C (z_M only)"),
    ("--balanced-segmentation", "loss", "balanced_segmentation", "class-balanced NLL for D's segmentation of fakes"),
    ("--sprite", "generator", "sprite", "with the motion layer: a rigid object (the stream's mean over time)"),
)


def _overrides(args: argparse.Namespace) -> dict[str, dict]:
    sections: dict[str, dict] = {}
    for flag, section, name, _, _ in TRAIN_OPTIONS:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            sections.setdefault(section, {})[name] = value
    for flag, section, name, _ in TRAIN_SWITCHES:
        if getattr(args, flag[2:].replace("-", "_")):
            sections.setdefault(section, {})[name] = True
    return sections


def _synth(args: argparse.Namespace) -> None:
    from vosgan.data.synthetic import write_benchmark

    out = write_benchmark(args.out, args.videos, args.frames, args.size, args.seed, args.difficulty)
    print(f"wrote {args.videos} videos to {out}")


def _segment(args: argparse.Namespace) -> None:
    from vosgan.device import resolve_device
    from vosgan.models.checkpoint import load_checkpoint, load_models
    from vosgan.segmentation.video import segment_path

    checkpoint = load_checkpoint(args.checkpoint)
    if checkpoint.method != "vosgan":
        return _segment_peer(args, checkpoint)
    cfg, _, discriminator = load_models(checkpoint, resolve_device(args.device))
    report = segment_path(
        discriminator,
        cfg,
        args.input,
        args.out,
        args.batch_size,
        args.threshold,
        args.soft,
        args.flow,
        not args.no_progress,
        overwrite=args.overwrite,
        size=args.size,
        precision=args.precision,
        refine=_refine(args),
    )
    _report(report, args.out)


def _segment_peer(args: argparse.Namespace, checkpoint) -> None:
    """``vosgan segment`` with a CIS or FaSTGAN checkpoint (the same outputs, one sequence at a time)."""
    from vosgan.device import resolve_device
    from vosgan.methods import load_segmenter, segment_sequences
    from vosgan.segmentation.video import check_output, input_sequences

    if args.size or args.flow:
        raise ValueError("--size and --flow apply to VOS-GAN checkpoints only; this one is a peer method's")
    from vosgan.data.flow import FlowCache
    from vosgan.data.sources import DEFAULT_CACHE

    segmenter = load_segmenter(checkpoint, resolve_device(args.device), FlowCache(DEFAULT_CACHE))
    sequences = input_sequences(args.input)
    arrays = ("_soft",) if args.soft else ()
    check_output(Path(args.out), Path(args.input), [s.name for s in sequences], args.overwrite, arrays)
    report, timing = segment_sequences(
        segmenter,
        sequences,
        args.out,
        args.threshold,
        args.soft,
        not args.no_progress,
        overwrite=args.overwrite,
        refine=_refine(args),
    )
    if report.written:
        print(f"{segmenter.method}: {timing.frames} frames at {timing.fps:.1f} frames/s")
    _report(report, args.out)


def _refine(args: argparse.Namespace) -> str | None:
    """``--refine``: None for the checkpoint's own refinement ('model'), else the method named."""
    return None if args.refine == "model" else args.refine


def _report(report, out) -> None:
    """Print what a segmentation wrote; fail (listing why) when some sequences could not be segmented."""
    from vosgan.data.io import DataError

    print(f"segmented {len(report.written)} sequence(s) into {out}")
    if report.failed:
        for name, reason in report.failed.items():
            print(f"vosgan segment: skipped {printable(name)}: {printable(reason)}", file=sys.stderr)
        raise DataError(
            f"{len(report.failed)} of {len(report.failed) + len(report.written)} sequence(s) could not be segmented "
            "(each named above)"
        )


def _evaluate(args: argparse.Namespace) -> None:
    from vosgan.metrics.evaluate import evaluate_folders, format_table, write_json

    if args.json:
        from vosgan.data.io import check_out_file

        check_out_file(args.json, [args.gt, args.pred], args.overwrite, "--json")
    sequences = [n for n in args.sequences.split(",") if n] if args.sequences else None
    results = evaluate_folders(args.gt, args.pred, args.binary, sequences, args.task, args.workers)
    single = results.get("single_id_sequences", [])
    if single:
        shown = ", ".join(single[:5]) + (", ..." if len(single) > 5 else "")
        print(
            f"warning: the predictions of {len(single)} sequence(s) ({shown}) hold one object id where the ground "
            "truth holds several: only object 1 can match them. Pass --binary to score foreground against "
            "background (DAVIS 2016), as for an unsupervised method's masks.",
            file=sys.stderr,
        )
    if args.json:
        write_json(results, args.json)
    print(format_table(results))


def _finetune(args: argparse.Namespace) -> None:
    from vosgan.data.io import check_out_file
    from vosgan.data.sources import load_dataset
    from vosgan.device import resolve_device
    from vosgan.models.checkpoint import load_checkpoint, load_models, save_checkpoint
    from vosgan.training.finetune import finetuned_state

    check_out_file(args.out, [args.checkpoint], args.overwrite)
    checkpoint = load_checkpoint(args.checkpoint)
    models = load_models(checkpoint, resolve_device(args.device))
    progress = not args.no_progress
    dataset = load_dataset(models.cfg, args.data, args.format, args.split, args.videos, args.seed, progress=progress)
    state, losses = finetuned_state(
        models,
        checkpoint.train,
        dataset,
        args.iterations,
        label_fraction=args.label_fraction,
        seed=args.seed,
        from_scratch=args.from_scratch,
        batch_size=args.batch_size,
        lr=args.lr,
        progress=progress,
        balanced=not args.no_balance,
    )
    save_checkpoint(args.out, state)
    print(f"fine-tuned {args.iterations} steps (last loss {losses[-1]:.4f}); saved {args.out}")


def _export(args: argparse.Namespace) -> None:
    from vosgan.config import VOSGANConfig
    from vosgan.data.io import check_out_file
    from vosgan.models.checkpoint import export_weights, load_checkpoint, require_method

    check_out_file(args.out, [args.checkpoint], args.overwrite)
    checkpoint = load_checkpoint(args.checkpoint)
    updates = _recalibration(args, checkpoint) if args.bn_clips else {}
    segment = {  # how this model segments real videos, chosen on val: working height, refinement
        key: getattr(args, key)
        for key in ("working_size", "refine", "refine_radius", "refine_eps")
        if getattr(args, key) is not None
    }
    if segment:
        require_method(checkpoint, args.checkpoint, "vosgan")
        cfg = VOSGANConfig.from_dict(checkpoint["config"])
        updates["config"] = cfg.with_overrides(segment=segment).to_dict()
    path = export_weights(checkpoint, args.out, half=args.half, updates=updates)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def _recalibration(args: argparse.Namespace, checkpoint) -> dict:
    """``export --bn-clips N``: D with BatchNorm statistics from N real clips of the training data
    (``vosgan.training.recalibrate``), and the record of where they came from."""
    from vosgan.data.sources import load_dataset
    from vosgan.models.checkpoint import load_models
    from vosgan.training.recalibrate import recalibrate_batchnorm

    cfg, _, discriminator = load_models(checkpoint)
    split = _training_split(args)
    dataset = load_dataset(cfg, args.data, args.format, split, args.videos, args.seed, progress=not args.no_progress)
    discriminator = recalibrate_batchnorm(discriminator, dataset, args.bn_clips, seed=args.seed)
    source = {"data": args.data, "format": args.format, "split": split, "videos": args.videos}
    return {
        "discriminator": discriminator.state_dict(),
        "bn_recalibration": {"clips": min(args.bn_clips, len(dataset)), "seed": args.seed, **source},
    }


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=COUNT, default=0, help="random seed: same seed, same result")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, unless the help already states it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if action.required or unset or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vosgan", description=__doc__, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train the GAN (single process, or DDP under torchrun)")
    p.add_argument("--preset", default="small", help="paper, small or tiny")
    p.add_argument(
        "--ablation", default=None, help="a Table 4 row: baseline, +slerp, +lstm, +segmentation, +flow, +alpha"
    )
    p.add_argument("--data", default="synthetic", help="'synthetic' (embedded) or a dataset folder")
    p.add_argument("--format", default="davis", help="davis, segtrack, golf, weizmann, ucf101 or folder")
    p.add_argument(
        "--split", default=None, help="dataset split; synthetic data: the unlabeled pool (disjoint from evaluation)"
    )
    p.add_argument("--videos", type=POSITIVE_INT, default=1000, help="synthetic clips to train on")
    p.add_argument("--difficulty", type=FRACTION, default=0.0, help="synthetic camera motion and noise, 0-1")
    p.add_argument(
        "--iterations", type=POSITIVE_INT, default=None, help="training steps; the preset's epochs by default"
    )
    for flag, _, _, kind, text in TRAIN_OPTIONS:
        p.add_argument(flag, type=kind, default=None, help=text + "; the preset's value by default")
    for flag, _, _, text in TRAIN_SWITCHES:
        p.add_argument(flag, action="store_true", help=text)
    p.add_argument(
        "--threads",
        type=COUNT,
        default=0,
        help="CPU threads per step; 0 (default): adapt to the machine's load (1 thread beside busy processes), "
        "a number pins it (bit-exact reruns)",
    )
    p.add_argument(
        "--evaluate-every", type=COUNT, default=0, help="real-clip val evaluation every N steps (0: off); best.pt"
    )
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, metrics.jsonl, samples/")
    p.add_argument("--resume", action="store_true", help="continue the run folder's checkpoint")
    p.add_argument(
        "--init",
        default=None,
        help="start a new run from this checkpoint's weights (same shape; it may add the motion layer)",
    )
    p.add_argument("--checkpoint-every", type=COUNT, default=200, help="steps between checkpoints (0: only at the end)")
    p.add_argument("--sample-every", type=COUNT, default=500, help="steps between sample grids (0: none)")
    p.add_argument("--workers", type=COUNT, default=0, help="data-loading processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_common(p)
    p.set_defaults(func=_train)

    data = sub.add_parser("data", help="datasets").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("synth", help="write the embedded synthetic benchmark in the DAVIS layout")
    p.add_argument("--out", required=True, help="folder for the DAVIS-layout benchmark")
    p.add_argument("--videos", type=POSITIVE_INT, default=100, help="videos to write")
    p.add_argument("--frames", type=number(int, 2), default=32, help="frames per video (flow needs 2)")
    p.add_argument("--size", type=number(int, 16, 4096), default=64, help="frame side in pixels")
    p.add_argument("--difficulty", type=FRACTION, default=0.0, help="camera motion and noise, 0-1")
    p.add_argument("--seed", type=COUNT, default=0, help="random seed: same seed, same result")
    p.set_defaults(func=_synth)

    p = sub.add_parser("segment", help="segment videos with a checkpoint's discriminator (DAVIS-layout masks)")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by vosgan")
    p.add_argument("--input", required=True, help="a video file, a frame folder, a folder of videos, or a DAVIS root")
    p.add_argument("--out", required=True, help="output folder: <sequence>/<frame>.png masks")
    p.add_argument(
        "--batch-size", type=POSITIVE_INT, default=16, help="shots per forward pass (taken across sequences)"
    )
    p.add_argument(
        "--threshold",
        type=number(float, 0, 1, open_low=True, open_high=True),
        default=0.5,
        help="foreground probability threshold, in (0, 1)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace masks already in --out (never the input's)")
    p.add_argument(
        "--refine",
        choices=("model", *REFINEMENTS),
        default="model",
        help="how maps reach the frame's resolution: model (default: the checkpoint's own, chosen on val; "
        "none for peers), none (bilinear, as the paper), guided (edge-aware guided filter), crf (dense CRF, slow)",
    )
    p.add_argument(
        "--size",
        type=number(int, 0, 2048),
        default=0,
        help="working height in pixels (a multiple of 8; the width keeps the video's aspect ratio); "
        "0: the checkpoint's working size (vosgan export --working-size), else the preset's square frame",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="the network's precision: auto (default: bf16 on CUDA and on CPUs with native bf16), fp32, bf16",
    )
    p.add_argument("--soft", action="store_true", help="also save probability maps (_soft/<seq>.npy)")
    p.add_argument("--flow", action="store_true", help="also save the predicted flow (_flow/<seq>.npy)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_common(p)
    p.set_defaults(func=_segment)

    p = sub.add_parser("evaluate", help="DAVIS J and F of predicted masks against ground truth")
    p.add_argument("--gt", required=True, help="folder of <seq>/<frame>.png (or a DAVIS root)")
    p.add_argument("--pred", required=True, help="folder of <seq>/<frame>.png")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--overwrite", action="store_true", help="replace --json if it exists (never an input)")
    p.add_argument("--binary", action="store_true", help="merge all object ids into one foreground (DAVIS 2016)")
    p.add_argument("--sequences", help="comma-separated sequence names to score (default: every sequence of --gt)")
    p.add_argument(
        "--task",
        default="semi-supervised",
        choices=("semi-supervised", "unsupervised"),
        help="DAVIS 2017 protocol: semi-supervised (first and last frames not scored) or unsupervised "
        "(every frame; objects matched to predicted ids by the Hungarian algorithm)",
    )
    p.add_argument("--workers", type=POSITIVE_INT, default=None, help="processes, one sequence each (default: cores)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("finetune", help="train the segmenter on ground-truth masks (or from scratch: the baseline)")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by vosgan")
    p.add_argument("--data", default="synthetic", help="'synthetic' (embedded, with masks) or a dataset folder")
    p.add_argument("--format", default="davis", help="davis, segtrack or folder (with --data PATH)")
    p.add_argument("--split", default="train", help="the split whose masks train the segmenter")
    p.add_argument("--videos", type=POSITIVE_INT, default=200, help="synthetic benchmark size (all splits)")
    p.add_argument("--iterations", type=POSITIVE_INT, default=300, help="training steps")
    p.add_argument("--batch-size", type=POSITIVE_INT, default=8, help="clips per step")
    p.add_argument("--lr", type=POSITIVE, default=2e-4, help="Adam learning rate")
    p.add_argument(
        "--label-fraction", type=number(float, 0, 1, open_low=True), default=1.0, help="share of annotated frames kept"
    )
    p.add_argument("--from-scratch", action="store_true", help="the supervised baseline: a freshly initialised network")
    p.add_argument("--no-balance", action="store_true", help="plain pixel NLL instead of the class-balanced one")
    p.add_argument("--out", required=True, help="checkpoint to write")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never the input)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_common(p)
    p.set_defaults(func=_finetune)

    p = sub.add_parser("export", help="a weights-only checkpoint (config + both networks) for sharing")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by vosgan")
    p.add_argument("--out", required=True, help="the exported .pt file")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never the input)")
    p.add_argument(
        "--bn-clips",
        type=COUNT,
        default=0,
        help="recompute D's BatchNorm statistics on this many real training clips (no labels; 0: keep them)",
    )
    p.add_argument("--data", default="synthetic", help="with --bn-clips: 'synthetic' (embedded) or a dataset folder")
    p.add_argument("--format", default="davis", help="with --bn-clips: the dataset's format")
    p.add_argument("--split", default=None, help="with --bn-clips: split (synthetic: the unlabeled training pool)")
    p.add_argument("--videos", type=POSITIVE_INT, default=1000, help="with --bn-clips: synthetic clips to draw from")
    p.add_argument("--seed", type=COUNT, default=0, help="with --bn-clips: which clips")
    p.add_argument(
        "--working-size",
        type=COUNT,
        default=None,
        help="record the height (a multiple of 8) this model segments real videos at; 0: the preset's square",
    )
    p.add_argument("--refine", choices=REFINEMENTS, default=None, help="record the refinement this model segments with")
    p.add_argument(
        "--refine-radius",
        type=number(float, 0, 1, open_low=True),
        default=None,
        help="record the guided filter's window radius, a share of the map's height",
    )
    p.add_argument(
        "--refine-eps", type=number(float, 0, 1, open_low=True), default=None, help="record the guided filter's eps"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_export)

    from vosgan.cli.experiments import add_parsers

    add_parsers(sub, _add_common, POSITIVE_INT)
    from vosgan.cli.peers import add_peer_parsers

    add_peer_parsers(sub, _add_common, POSITIVE_INT)
    _format_all(parser)
    return parser


def _format_all(parser: argparse.ArgumentParser) -> None:
    """Every command's help in ``HelpFormatter``: options with their defaults."""
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _format_all(child)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        print(f"vosgan {args.command}: error: {printable(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside training (which stops cleanly by itself): no traceback
        print(f"vosgan {args.command}: interrupted; what was complete is kept", file=sys.stderr)
        return 130
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
