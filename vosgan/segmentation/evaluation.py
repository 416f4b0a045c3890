"""Does the discriminator segment *real* moving objects, and does it use motion to do it?

What a GAN run should be judged by (not D's agreement with G's own masks, which D can reach by
recognising G's artefacts): J and F of the discriminator's segmentation of annotated real clips it
never trained on; the same clips frozen in time (first frame repeated, scored against the first
mask repeated), where a motion-based segmenter loses its J and an appearance-based one keeps it; the
flow head's end-point error against that of predicting no motion; and how much each latent space
moves the generator's streams.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from einops import repeat

from vosgan.data.clips import resize_frames
from vosgan.data.flow import farneback
from vosgan.data.io import DataError
from vosgan.data.synthetic import make_benchmark
from vosgan.exploration.explore import latent_effects
from vosgan.metrics.evaluate import evaluate_arrays
from vosgan.models import Discriminator, Generator
from vosgan.segmentation.baselines import BASELINE_NAMES, ThresholdBaseline

# The embedded evaluation benchmark: 200 videos of 32 frames at 64x64 (70/15/15 splits), seed 0.
# GAN training on synthetic data draws from a disjoint pool (vosgan.data.synthetic.unlabeled_pool).
EVAL_BENCHMARK = {"count": 200, "frames": 32, "size": 64, "seed": 0}


@dataclass
class RealClips:
    """Annotated clips: ``frames`` RGB uint8 (N, H, W, 3) and ``masks`` ids (N, H, W) per name."""

    frames: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]

    @classmethod
    def benchmark(cls, split: str, count: int = 200, frames: int = 32, size: int = 64, seed: int = 0) -> RealClips:
        """One split of the embedded benchmark (the defaults are ``EVAL_BENCHMARK``)."""
        clips = make_benchmark(count, frames, size, seed, split=split)
        names = [f"{split}{i:03d}" for i in range(len(clips))]
        return cls({n: c.frames for n, c in zip(names, clips)}, {n: c.masks for n, c in zip(names, clips)})

    def frozen(self) -> RealClips:
        """Each clip's first frame (and first mask) repeated over the clip's length: motion removed."""
        still = lambda x: repeat(x[0], "... -> t ...", t=len(x))  # noqa: E731
        return RealClips({n: still(f) for n, f in self.frames.items()}, {n: still(m) for n, m in self.masks.items()})

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(self.frames[n], self.masks[n]) for n in self.frames]

    def __len__(self) -> int:
        return len(self.frames)


def score_predictions(clips: RealClips, predictions: dict[str, np.ndarray]) -> dict[str, float]:
    """Binary DAVIS J-Mean and F-Mean of ``predictions`` (ids (N, H, W) per name) against ``clips``."""
    g = evaluate_arrays(clips.masks, predictions, binary=True)["global"]
    return {"J": g["J-Mean"], "F": g["F-Mean"]}


def segment_clips(
    discriminator: Discriminator, cfg, clips: RealClips, threshold: float = 0.5, refine: str | None = None
) -> dict[str, np.ndarray]:
    """The discriminator's masks (ids (N, H, W)) of every clip, at the clip's own size, refined as the
    model's config says or by ``refine``."""
    from vosgan.segmentation.video import segment_frames

    return {n: segment_frames(discriminator, cfg, f, refine=refine).masks(threshold) for n, f in clips.frames.items()}


def segmenter_scores(
    discriminator: Discriminator, cfg, clips: RealClips, refine: str | None = None
) -> dict[str, float]:
    """J and F on ``clips``, and J on the same clips frozen in time (``J_frozen``)."""
    scores = score_predictions(clips, segment_clips(discriminator, cfg, clips, refine=refine))
    frozen = clips.frozen()
    scores["J_frozen"] = score_predictions(frozen, segment_clips(discriminator, cfg, frozen, refine=refine))["J"]
    return scores


def refinement_sweep(discriminator: Discriminator, cfg, clips: RealClips, candidates) -> list[dict]:
    """J, F, frozen J and the refinement's frames/s on ``clips`` for each candidate ``SegmentConfig``
    (its ``refine``, ``refine_radius``, ``refine_eps``; the working size is the model's): the network
    runs once per clip, the refinements on its maps. Choose on val, report on test."""
    from vosgan.segmentation.refine import refine
    from vosgan.segmentation.video import working_maps

    sets = {"": clips, "frozen": clips.frozen()}
    maps = {
        k: {n: working_maps(discriminator, cfg, f)[0].numpy() for n, f in c.frames.items()} for k, c in sets.items()
    }
    rows, frames = [], sum(len(f) for f in clips.frames.values())
    for settings in candidates:
        begin = time.perf_counter()
        refined = {k: {n: refine(maps[k][n], f, settings) for n, f in c.frames.items()} for k, c in sets.items()}
        seconds = (time.perf_counter() - begin) / len(sets)
        scores = {k: score_predictions(c, {n: (p > 0.5).astype(np.uint8) for n, p in refined[k].items()})
                  for k, c in sets.items()}  # fmt: skip
        rows.append({"refine": settings.refine, "radius": settings.refine_radius, "eps": settings.refine_eps,
                     **scores[""], "J_frozen": scores["frozen"]["J"], "frames_per_s": frames / seconds})  # fmt: skip
    return rows


def flow_error(discriminator: Discriminator, cfg, clips: RealClips) -> dict[str, float]:
    """Mean end-point error (pixels per frame at the working size) of the discriminator's flow against
    Farneback flow of each clip at that size, next to the error of predicting zero flow."""
    from vosgan.segmentation.video import segment_frames

    errors, zero = [], []
    for frames in clips.frames.values():
        small = resize_frames(frames, cfg.size)
        target = farneback(small)  # (N, S, S, 2) pixels at the working size
        pred = segment_frames(discriminator, cfg, small, with_flow=True).flow
        errors.append(np.linalg.norm(pred - target, axis=-1).mean())
        zero.append(np.linalg.norm(target, axis=-1).mean())
    return {"flow_epe": float(np.mean(errors)), "flow_epe_zero": float(np.mean(zero))}


class SegmenterEvaluation:
    """The real-clip evaluation of a run, set up once (clips, baselines) and applied to any snapshot.

    ``split`` is 'val' for choosing snapshots and 'test' for reporting. The baselines' thresholds are
    chosen on the benchmark's train split; their J on ``split`` is computed here once.
    """

    def __init__(self, split: str = "val", benchmark: dict | None = None, baselines=("flow", "median")):
        self.benchmark = {**EVAL_BENCHMARK, **(benchmark or {})}
        self.split = split
        self.clips = RealClips.benchmark(split, **self.benchmark)
        train = RealClips.benchmark("train", **self.benchmark).pairs()
        self.baselines = {kind: ThresholdBaseline(kind).fit(train) for kind in baselines}
        self.baseline_scores = {
            kind: score_predictions(self.clips, {n: b.predict(f) for n, f in self.clips.frames.items()})
            for kind, b in self.baselines.items()
        }
        self._data_motion: dict[tuple[int, int], dict[str, float]] = {}  # by the generator's (frames, size)

    def __call__(self, generator: Generator | None, discriminator: Discriminator) -> dict[str, float]:
        """Scores of one snapshot, flat (JSON-ready): J, F, J_frozen, motion_sensitivity, flow errors,
        latent effects, the generator's motion figures beside the data's (``motion_travel``, ...,
        ``vosgan.metrics.masks.MotionReport``), and each baseline's J on the same clips (``J_flow_baseline``, ...)."""
        cfg = discriminator.cfg
        out = segmenter_scores(discriminator, cfg, self.clips)
        out["motion_sensitivity"] = 1 - out["J_frozen"] / out["J"] if out["J"] > 0 else 0.0
        out.update(flow_error(discriminator, cfg, self.clips))
        if generator is not None:
            from vosgan.metrics.masks import data_motion, motion_report

            out.update(latent_effects(generator))
            geometry = (generator.cfg.frames, generator.cfg.size)
            if geometry not in self._data_motion:
                self._data_motion[geometry] = data_motion(*geometry)
            out.update(motion_report(generator, data=self._data_motion[geometry]).to_dict("motion_"))
        for kind, s in self.baseline_scores.items():
            out[f"J_{kind}_baseline"] = s["J"]
        return out

    def baseline_rows(self) -> dict[str, dict[str, float]]:
        """{table name: {'J', 'F', 'threshold'}} of each baseline on this split."""
        return {
            BASELINE_NAMES[k]: {**s, "threshold": self.baselines[k].threshold} for k, s in self.baseline_scores.items()
        }


def evaluate_videos(discriminator: Discriminator, cfg, videos: dict[str, tuple]) -> dict:
    """Binary DAVIS evaluation of the segmenter on ``{name: (frames (N, H, W, 3), ids (N, H, W))}``."""
    from vosgan.segmentation.video import segment_frames

    gt = {name: ids for name, (_, ids) in videos.items()}
    pred = {name: segment_frames(discriminator, cfg, frames).masks() for name, (frames, _) in videos.items()}
    return evaluate_arrays(gt, pred, binary=True)


def evaluate_segmenter(discriminator: Discriminator, cfg, clips: list) -> dict:
    """``evaluate_videos`` on benchmark clips."""
    return evaluate_videos(discriminator, cfg, {f"v{i:04d}": (c.frames, c.masks) for i, c in enumerate(clips)})


def evaluate_sequences(discriminator: Discriminator, cfg, sequences: list) -> dict:
    """``evaluate_videos`` on the annotated ``Sequence``s of a real dataset (DAVIS, SegTrack-v2, ...)."""
    annotated = [s for s in sequences if s.read_masks is not None]
    if not annotated:
        raise DataError("none of these sequences has ground-truth masks to evaluate against")
    return evaluate_videos(discriminator, cfg, {s.name: (s.read_frames(), s.read_masks()) for s in annotated})
