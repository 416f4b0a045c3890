"""The paper's other experiments as `vosgan` subcommands: ``features``, ``generation``, ``table4``,
``actions``, ``unlabeled-curve``, and ``refine-sweep`` (a model's refinement chosen on val; registered
by ``vosgan.cli.main.build_parser``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vosgan.data.io import check_out_file, check_own_result, write_result
from vosgan.metrics.generation import FEATURE_BENCHMARK, real_clips
from vosgan.paths import SHIPPED


def _features(args: argparse.Namespace) -> None:
    from vosgan.metrics.featurenet import save_feature_network, train_feature_network

    if Path(args.out).exists() and not args.overwrite:
        raise ValueError(f"{args.out} exists; pass --overwrite to replace it")
    net, scores = train_feature_network(args.videos, args.steps, seed=args.seed, progress=not args.no_progress)
    recipe = {"videos": args.videos, "split": "train", "steps": args.steps, "batch": 32, "seed": args.seed}
    save_feature_network(net, args.out, scores, recipe)
    print(f"wrote {args.out}; val accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))


def _generation(args: argparse.Namespace) -> None:
    from vosgan.metrics.extractors import make_extractor
    from vosgan.metrics.generation import score_generation
    from vosgan.models.checkpoint import load_models

    if args.out:
        check_out_file(args.out, [args.checkpoint], args.overwrite)
    cfg, gen, disc = load_models(args.checkpoint)
    extractor = make_extractor(args.features, args.feature_network, args.inception_weights, args.resnext_weights)
    scores = score_generation(
        gen, disc, real_clips(cfg.frames, cfg.size), extractor, args.sets, args.per_set, args.seed
    )
    for s in scores.values():
        print(s)
    if args.out:
        write_result(args.out, json.dumps({k: s.to_dict() for k, s in scores.items()}, indent=1))


def _table4(args: argparse.Namespace) -> None:
    from vosgan.config import VOSGANConfig, recipe
    from vosgan.experiments.ablation import score_rows, table_text, train_rows
    from vosgan.metrics.extractors import make_extractor
    from vosgan.models.checkpoint import load_checkpoint

    result = check_own_result(Path(args.out) / "table4.json")
    base = VOSGANConfig.from_dict(load_checkpoint(args.recipe_from)["config"])
    rows = train_rows(
        args.out,
        base.name,
        recipe(base),
        args.rows.split(","),
        args.iterations,
        args.videos,
        args.seed,
        progress=not args.no_progress,
    )
    table = score_rows(rows, make_extractor("kit", args.feature_network), args.sets, args.per_set, args.seed)
    print(table_text(table))
    write_result(result, json.dumps(table, indent=1))


def _run_name(path: str) -> str:
    """A checkpoint's name in tables: its stem, or its run folder's name for a run's ``checkpoint.pt``."""
    p = Path(path)
    return p.parent.name if p.stem in ("checkpoint", "best") else p.stem


def _actions(args: argparse.Namespace) -> None:
    from vosgan.experiments.representation import LabelledVideos, compare_discriminators, weizmann_split
    from vosgan.models import Discriminator
    from vosgan.models.checkpoint import load_models

    if args.out:
        check_out_file(args.out, [args.checkpoint, *(args.compare or [])], args.overwrite)
    cfg, _, disc = load_models(args.checkpoint)
    if args.data == "synthetic":
        train = LabelledVideos.benchmark(args.videos, "train", cfg.frames, cfg.size, args.seed)
        test = LabelledVideos.benchmark(args.videos, "test", cfg.frames, cfg.size, args.seed)
    elif args.format == "weizmann":
        from vosgan.data.readers import read_weizmann

        tr, te = weizmann_split(read_weizmann(args.data))
        train = LabelledVideos.sequences(tr, cfg.frames, cfg.size)
        test = LabelledVideos.sequences(te, cfg.frames, cfg.size, train.classes)
    elif args.format == "ucf101":
        from vosgan.data.readers import read_ucf101, ucf101_classes

        if not args.split_dir:
            raise ValueError("UCF101 needs --split-dir (the folder with classInd.txt and trainlist01.txt)")
        classes = tuple(ucf101_classes(args.split_dir))
        train = LabelledVideos.sequences(
            read_ucf101(args.data, args.split_dir, 1, "train"), cfg.frames, cfg.size, classes
        )
        test = LabelledVideos.sequences(
            read_ucf101(args.data, args.split_dir, 1, "test"), cfg.frames, cfg.size, classes
        )
    else:
        raise ValueError(f"action recognition reads synthetic, weizmann or ucf101 data, not --format {args.format}")
    import torch

    torch.manual_seed(args.seed)
    discriminators = {_run_name(args.checkpoint): disc, "random init": Discriminator(cfg)}
    for other in args.compare or []:
        discriminators[_run_name(other)] = load_models(other)[2]
    rows = compare_discriminators(discriminators, train, test, range(args.seeds), args.modes.split(","), args.steps)
    print(f"{len(train)} training and {len(test)} test clips, {len(train.classes)} classes")
    for r in rows:
        print(
            f"{r['discriminator']:>24} {r['mode']:>9}: accuracy {100 * r['accuracy']:.1f} +- {100 * r['std']:.1f} "
            f"(chance {100 * r['chance']:.1f}, {r['seeds']} seeds)"
        )
    if args.out:
        write_result(args.out, json.dumps(rows, indent=1))


def _unlabeled_curve(args: argparse.Namespace) -> None:
    from vosgan.config import get_preset
    from vosgan.experiments.unlabeled import unlabeled_curve

    try:
        fractions = tuple(float(f) for f in args.fractions.split(","))
    except ValueError:
        raise ValueError(f"--fractions {args.fractions!r}: give shares of the pool in (0, 1], e.g. 0.1,0.5,1") from None
    result = check_own_result(Path(args.out) / "curve.json")
    curve = unlabeled_curve(
        get_preset(args.preset),
        args.out,
        args.pool,
        fractions,
        args.iterations,
        args.seed,
        progress=not args.no_progress,
        device=args.device,
    )
    print(curve.table())
    write_result(result, json.dumps(curve.rows, indent=1))


def _refine_sweep(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from vosgan.models.checkpoint import load_models
    from vosgan.segmentation.evaluation import EVAL_BENCHMARK, RealClips, refinement_sweep

    if args.out:
        check_out_file(args.out, [args.checkpoint], args.overwrite)
    cfg, _, discriminator = load_models(args.checkpoint)
    base = cfg.segment
    candidates = [replace(base, refine="none")]
    candidates += [replace(base, refine="guided", refine_radius=r, refine_eps=e) for r in args.radii for e in args.eps]
    candidates += [replace(base, refine="crf")] if args.crf else []
    rows = refinement_sweep(discriminator, cfg, RealClips.benchmark(args.split, **EVAL_BENCHMARK), candidates)
    size = base.working_size or cfg.size
    print(f"{args.checkpoint} on the embedded benchmark's {args.split} split (working size {size})")
    print("| refine | radius | eps | J | F | J frozen | frames/s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        shown = (r["radius"], r["eps"]) if r["refine"] == "guided" else ("-", "-")
        print(f"| {r['refine']} | {shown[0]} | {shown[1]} | {100 * r['J']:.1f} | {100 * r['F']:.1f} | "
              f"{100 * r['J_frozen']:.1f} | {r['frames_per_s']:.0f} |")  # fmt: skip
    best = max(rows, key=lambda r: r["J"])
    print(
        f"best J: {best['refine']}"
        + (f" radius {best['radius']} eps {best['eps']}" if best["refine"] == "guided" else "")
    )
    if args.out:
        write_result(
            args.out, json.dumps({"checkpoint": str(args.checkpoint), "split": args.split, "rows": rows}, indent=1)
        )


def _add_scoring(p: argparse.ArgumentParser, positive_int) -> None:
    """The options of every command that computes generation scores."""
    p.add_argument(
        "--feature-network", default=None, help="kit feature network (default: checkpoints/features-small.pt)"
    )
    p.add_argument("--sets", type=positive_int, default=20, help="scores are mean +- std over this many sets")
    p.add_argument("--per-set", type=positive_int, default=64, help="generated clips per set")


def add_parsers(sub, add_common, positive_int) -> None:
    p = sub.add_parser("features", help="train the kit's feature network for offline FID/IS/FCD")
    p.add_argument("--out", required=True, help="the feature network's .pt file")
    p.add_argument("--videos", type=positive_int, default=FEATURE_BENCHMARK, help="benchmark size (its train split)")
    p.add_argument("--steps", type=positive_int, default=3000, help="training steps")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_common(p)
    p.set_defaults(func=_features)

    p = sub.add_parser("generation", help="FID, IS, FCD and motion coherency of a trained generator (Tables 4-5)")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by vosgan")
    p.add_argument("--features", default="kit", help="kit (offline, the default) or published (local weights)")
    _add_scoring(p, positive_int)
    p.add_argument("--inception-weights", default=None, help="local torchvision Inception-v3 state dict")
    p.add_argument("--resnext-weights", default=None, help="local 3D ResNeXt-101 Kinetics checkpoint (Hara et al.)")
    p.add_argument("--out", default=None, help="write the scores with their recipes as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never an input)")
    add_common(p)
    p.set_defaults(func=_generation)

    p = sub.add_parser("table4", help="train the Table 4 ablation rows with one budget and score them (kit features)")
    p.add_argument("--out", required=True, help="folder of the rows' runs (a finished row is kept)")
    p.add_argument(
        "--recipe-from",
        default=str(SHIPPED),
        help="checkpoint whose preset and recipe every row uses (the shipped one)",
    )
    p.add_argument(
        "--rows", default="baseline,+slerp,+lstm,+segmentation,+flow,+alpha", help="comma-separated Table 4 rows"
    )
    p.add_argument("--iterations", type=positive_int, default=300, help="training steps of each row")
    p.add_argument("--videos", type=positive_int, default=1000, help="unlabeled clips every row trains on")
    _add_scoring(p, positive_int)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_common(p)
    p.set_defaults(func=_table4)

    p = sub.add_parser("actions", help="action recognition from the discriminator (Tables 9-12)")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by vosgan")
    p.add_argument("--data", default="synthetic", help="'synthetic' (motion kinds) or a dataset folder")
    p.add_argument("--format", default="weizmann", help="weizmann or ucf101 (with --data PATH)")
    p.add_argument("--split-dir", default=None, help="UCF101's ucfTrainTestlist folder")
    p.add_argument("--videos", type=positive_int, default=400, help="synthetic benchmark size")
    p.add_argument(
        "--modes", default="transfer,finetune", help="transfer (linear layer on the frozen encoder), finetune, or both"
    )
    p.add_argument("--seeds", type=positive_int, default=3, help="classifier seeds each score is averaged over")
    p.add_argument("--steps", type=positive_int, default=300, help="classifier training steps")
    p.add_argument("--compare", nargs="*", help="more checkpoints (e.g. the Table 4 baseline row)")
    p.add_argument("--out", default=None, help="write the rows as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never an input)")
    add_common(p)
    p.set_defaults(func=_actions)

    p = sub.add_parser("refine-sweep", help="J, F and frozen J of each refinement on val: choose a model's default")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by vosgan")
    p.add_argument("--split", default="val", help="the embedded benchmark's split (choose on val, report on test)")
    floats = lambda text: tuple(float(x) for x in text.split(","))  # noqa: E731
    p.add_argument("--radii", type=floats, default=(0.09, 0.14, 0.18, 0.21), help="guided: shares of the map height")
    p.add_argument("--eps", type=floats, default=(1e-4, 1e-3), help="guided: regularisers")
    p.add_argument("--crf", action="store_true", help="also the dense CRF (slow: about 12 frames/s on 2 cores)")
    p.add_argument("--out", default=None, help="write the rows as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (never an input)")
    add_common(p)
    p.set_defaults(func=_refine_sweep)

    p = sub.add_parser("unlabeled-curve", help="segmentation J against the share of unlabeled videos (Fig. 8)")
    p.add_argument("--out", required=True, help="folder for the GANs' run folders and the curve")
    p.add_argument("--preset", default="small", help="paper, small or tiny")
    p.add_argument("--pool", type=positive_int, default=1000, help="unlabeled clips at 100%%")
    p.add_argument("--fractions", default="0.1,0.25,0.5,1.0", help="comma-separated shares of the pool")
    p.add_argument("--iterations", type=positive_int, default=200, help="training steps of each GAN")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_common(p)
    p.set_defaults(func=_unlabeled_curve)
