"""The paper's segmentation experiments on the embedded benchmark (Tables 6-7, Fig. 7).

Four training settings of the segmenter (the discriminator's shared encoder + motion stream):
synthetic (from scratch on a trained generator's own masks), adversarial (the GAN-trained
discriminator as is), each of them fine-tuned on ground truth; the supervised baseline (the same
network from scratch on ground truth); and the unsupervised Farneback-magnitude baseline. Then the
annotation-efficiency curve: adversarial + fine-tuning against the baseline for a share of labels,
and the same segmenters on the benchmark with a moving camera. Evaluation is DAVIS 2016 style (one
binary foreground) at the benchmark's original resolution, every row refined alike (``vosgan.segmentation.refine``).
Also the real-footage gallery of notebook 04 (``footage_gallery``).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from vosgan.config import SegmentConfig, VOSGANConfig
from vosgan.data.datasets import ClipDataset
from vosgan.data.synthetic import SyntheticClip, make_benchmark
from vosgan.metrics.evaluate import evaluate_arrays
from vosgan.models import Discriminator, Generator
from vosgan.segmentation.baselines import BASELINE_NAMES, ThresholdBaseline
from vosgan.segmentation.evaluation import evaluate_segmenter
from vosgan.segmentation.refine import refine as refine_maps
from vosgan.segmentation.video import segment_frames
from vosgan.training.finetune import finetune, train_on_generator

TABLE_KEYS = ("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


@dataclass(frozen=True)
class SegmentationExperiment:
    """Sizes of the experiment; the defaults are the embedded evaluation benchmark (200 videos of 32
    frames at 64x64, test split 30 videos) and finish in minutes on a 2-core CPU with the small preset."""

    videos: int = 200  # benchmark size over all splits (70/15/15)
    size: int = 64  # original resolution of the benchmark; predictions are rescaled to it
    frames: int = 0  # frames per video; 0 means twice the preset's shot length
    difficulty: float = 0.0
    iterations: int = 300  # steps of each segmenter training run
    batch_size: int = 8
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    seed: int = 0
    curve_seeds: int = 1  # fine-tuning seeds per point of the annotation curve (mean +- std when > 1)
    # how every row's maps (the baselines' masks too) reach the frames' size (vosgan.segmentation.refine); None: the
    # GAN checkpoint's own refinement
    refine: str | None = None
    # the same benchmark with camera pan, zoom and noise at this difficulty: the table's segmenters (as
    # trained above, no new training) and the baselines (thresholds chosen on its train split) scored
    # on its test split; 0: not run
    camera: float = 1.0

    @classmethod
    def quick(cls, **overrides) -> SegmentationExperiment:
        """About two minutes on 2 cores: 60 steps per segmenter, the curve at 25% and 100% of the labels."""
        return cls(**{"iterations": 60, "fractions": (0.25, 1.0), **overrides})

    def __post_init__(self):
        if self.iterations < 50:
            warnings.warn(
                f"{self.iterations} steps per segmenter are too few to mean anything: the synthetic and "
                "fine-tuned rows stay near 'all background' (J ~ 0) below about 50; use >= 60 (quick) or 300",
                stacklevel=3,
            )


def benchmark(exp: SegmentationExperiment, cfg: VOSGANConfig) -> dict[str, list[SyntheticClip]]:
    frames = exp.frames or 2 * cfg.frames
    return {
        split: make_benchmark(exp.videos, frames, exp.size, exp.seed, exp.difficulty, split=split)
        for split in ("train", "test")
    }


def _row(setting: str, results: dict, **extra) -> dict:
    return {"setting": setting, **extra, **{k: results["global"][k] for k in TABLE_KEYS}}


def _fresh(cfg: VOSGANConfig, seed: int, device) -> Discriminator:
    torch.manual_seed(seed)
    return Discriminator(cfg).to(device)


@dataclass
class ExperimentResult:
    """``summary`` is JSON-ready (tables, curve, settings); the rest is for figures."""

    summary: dict
    segmenters: dict[str, Discriminator]  # the trained segmenter of each table setting
    baselines: dict[str, ThresholdBaseline]  # 'flow', 'median'; thresholds chosen on the train split
    test: list[SyntheticClip]
    refine: str = "none"  # how every row's maps reached the frames' size


def run_experiments(
    generator: Generator,
    discriminator: Discriminator,
    exp: SegmentationExperiment = SegmentationExperiment(),
    progress: bool = True,
) -> ExperimentResult:
    """Everything of Tables 6-7 and Fig. 7 for one trained GAN, and the table's segmenters with camera motion."""
    cfg = generator.cfg
    refine = exp.refine or discriminator.cfg.segment.refine
    scored = lambda d, clips: evaluate_segmenter(d, d.cfg.with_overrides(segment={"refine": refine}), clips)  # noqa: E731
    device = next(discriminator.parameters()).device
    data = benchmark(exp, cfg)
    train = ClipDataset.from_synthetic(data["train"], cfg.size, progress=False)
    tune = dict(iterations=exp.iterations, batch_size=exp.batch_size, seed=exp.seed, progress=progress)
    runs = 5 + 2 * (exp.curve_seeds * len(exp.fractions) - (1.0 in exp.fractions))
    steps = tqdm(total=runs, desc="segmentation experiments", unit="run", disable=not progress)

    def done(row):
        steps.update(1)
        return row

    table = []
    synthetic = _fresh(cfg, exp.seed, device)
    train_on_generator(generator, synthetic, exp.iterations, exp.batch_size, seed=exp.seed, progress=progress)
    table.append(done(_row("synthetic", scored(synthetic, data["test"]))))
    table.append(_row("adversarial", scored(discriminator, data["test"])))
    finetune(synthetic, train, **tune)
    table.append(done(_row("synthetic + fine-tuning", scored(synthetic, data["test"]))))
    adv_ft = copy.deepcopy(discriminator)
    finetune(adv_ft, train, **tune)
    adv_full = scored(adv_ft, data["test"])
    table.append(done(_row("adversarial + fine-tuning", adv_full)))
    supervised = _fresh(cfg, exp.seed + 1, device)
    finetune(supervised, train, **tune)
    sup_full = scored(supervised, data["test"])
    table.append(done(_row("supervised baseline", sup_full)))

    rows, baselines = baseline_rows(data, refine)
    table += rows
    done(None)
    camera_table = []
    if exp.camera:
        moving = benchmark(replace(exp, difficulty=exp.camera), cfg)
        for name in ("adversarial", "adversarial + fine-tuning", "supervised baseline"):
            segmenter = {"adversarial": discriminator, "adversarial + fine-tuning": adv_ft}.get(name, supervised)
            camera_table.append(_row(name, scored(segmenter, moving["test"])))
        camera_table += baseline_rows(moving, refine)[0]

    def pair(fraction: float, seed: int) -> dict:
        """Test scores of the adversarial segmenter and of a fresh one, fine-tuned on ``fraction`` of the labels."""
        run = {**tune, "seed": seed}
        adv = copy.deepcopy(discriminator)
        finetune(adv, train, label_fraction=fraction, **run)
        sup = _fresh(cfg, seed + 1, device)
        finetune(sup, train, label_fraction=fraction, **run)
        return {
            "adversarial + fine-tuning": done(scored(adv, data["test"])),
            "supervised baseline": done(scored(sup, data["test"])),
        }

    curve = []
    for fraction in exp.fractions:
        per_seed = [
            {"adversarial + fine-tuning": adv_full, "supervised baseline": sup_full}  # the table's runs are these
            if fraction == 1.0 and k == 0
            else pair(fraction, exp.seed + 1000 * k)
            for k in range(exp.curve_seeds)
        ]
        curve += [curve_point(method, fraction, [_row(method, r[method]) for r in per_seed]) for method in per_seed[0]]
    steps.close()
    summary = {
        "experiment": {**asdict(exp), "refine": refine},
        "preset": cfg.name,
        "test_videos": len(data["test"]),
        "table": table,
        "camera_table": camera_table,
        "curve": curve,
        "threshold_scores": {kind: b.scores for kind, b in baselines.items()},
    }
    segmenters = {
        "synthetic + fine-tuning": synthetic,
        "adversarial": discriminator,
        "adversarial + fine-tuning": adv_ft,
        "supervised baseline": supervised,
    }
    return ExperimentResult(summary, segmenters, baselines, data["test"], refine)


def baseline_rows(data: dict[str, list[SyntheticClip]], refine: str) -> tuple[list[dict], dict]:
    """Table rows of both label-free baselines on ``data['test']``, thresholds chosen on ``data['train']``,
    masks refined as the methods' maps are; and the fitted baselines by kind."""
    gt = {f"v{i:04d}": c.masks for i, c in enumerate(data["test"])}
    rows, baselines = [], {}
    for kind, name in BASELINE_NAMES.items():
        base = baselines[kind] = ThresholdBaseline(kind).fit([(c.frames, c.masks) for c in data["train"]])
        pred = {f"v{i:04d}": refined_baseline(base, c.frames, refine) for i, c in enumerate(data["test"])}
        rows.append(_row(name, evaluate_arrays(gt, pred, binary=True), threshold=base.threshold))
    return rows, baselines


def curve_point(method: str, fraction: float, rows: list[dict]) -> dict:
    """One point of Fig. 7: the mean and std over seeds of each table figure."""
    point = {"setting": method, "fraction": fraction, "seeds": len(rows)}
    for key in TABLE_KEYS:
        values = [r[key] for r in rows]
        point[key], point[f"{key} std"] = float(np.mean(values)), float(np.std(values))
    return point


def refined_baseline(baseline: ThresholdBaseline, frames: np.ndarray, refine: str) -> np.ndarray:
    """A threshold baseline's mask (N, H, W) uint8, refined as the methods' maps are (``segmentation.refine``)."""
    mask = baseline.predict(frames)
    if refine == "none":
        return mask
    return (refine_maps(mask.astype(np.float32), frames, SegmentConfig(refine=refine)) > 0.5).astype(np.uint8)


def overlay_maps(result: ExperimentResult, index: int = 0) -> dict[str, np.ndarray]:
    """Fig. 6 material for one test video: ground truth and each segmenter's mask, ids (T, H, W)."""
    clip = result.test[index]
    maps = {"ground truth": (clip.masks > 0).astype(np.uint8)}
    for name in ("adversarial", "adversarial + fine-tuning", "supervised baseline"):
        segmenter = result.segmenters[name]  # each at its own working size
        maps[name] = segment_frames(segmenter, segmenter.cfg, clip.frames, refine=result.refine).masks()
    for kind, base in result.baselines.items():
        maps[BASELINE_NAMES[kind]] = refined_baseline(base, clip.frames, result.refine)
    return maps


def table_text(rows: list[dict]) -> str:
    """Rows as an aligned text table in percent (the papers' unit)."""
    width = max(len(r["setting"]) for r in rows)
    head = f"{'setting':<{width}}  " + "  ".join(f"{k:>8}" for k in TABLE_KEYS)
    lines = [head] + [f"{r['setting']:<{width}}  " + "  ".join(f"{100 * r[k]:8.1f}" for k in TABLE_KEYS) for r in rows]
    return "\n".join(lines)


# The real-footage gallery: clips that install by package name (``vosgan.data.samples``), each a
# window of ``frames`` frames from ``start``; tree.avi holds a tree in the wind and no object (a false-positive check).
GALLERY = {
    "vtest.avi": 200,
    "box.mp4": 40,
    "cup.mp4": 40,
    "tree.avi": 0,
    "bikes.mp4": 0,
    "bigbuckbunny.mp4": 0,
}


@dataclass
class FootageRow:
    """One clip of the gallery: its middle frame (H, W, 3), D's map there at the working size (h, w), and
    the masks (H, W) bilinear ('none') and with the model's refinement; the share of each clip's pixels
    called foreground, over all its frames."""

    name: str
    frame: np.ndarray
    probability: np.ndarray
    plain: np.ndarray
    refined: np.ndarray
    refine: str
    foreground: dict[str, float]


def footage_gallery(discriminator: Discriminator, cfg: VOSGANConfig, frames: int = 32, max_side: int = 384):
    """The gallery's rows for the clips of ``GALLERY`` installed here (``available_samples``), each
    shrunk to at most ``max_side`` pixels a side before segmenting; an empty list when none is. The
    refined column uses the model's refinement, or the guided filter for a model that records none."""
    from vosgan.data.clips import resize_frames
    from vosgan.data.samples import available_samples, read_sample
    from vosgan.segmentation.video import segment_frames, working_maps

    refine = cfg.segment.refine if cfg.segment.refine != "none" else "guided"
    rows = []
    for name in [n for n in GALLERY if n in available_samples()]:
        video = read_sample(name, frames, GALLERY[name])
        height, width = video.shape[1:3]
        if max(height, width) > max_side:
            video = resize_frames(
                video, round(height * max_side / max(height, width)), width=round(width * max_side / max(height, width))
            )
        middle = len(video) // 2
        maps, _ = working_maps(discriminator, cfg, video)
        plain = segment_frames(discriminator, cfg, video, refine="none").masks()
        refined = segment_frames(discriminator, cfg, video, refine=refine).masks()
        share = {"none": float(plain.mean()), refine: float(refined.mean())}
        rows.append(
            FootageRow(name, video[middle], maps[middle].numpy(), plain[middle], refined[middle], refine, share)
        )
    return rows
