"""The real-clip evaluation of a GAN run: frozen clips, baselines, flow error, latent effects, the monitor."""

import json

import numpy as np
import pytest
import torch

from vosgan.data.synthetic import UNLABELED_OFFSET, make_benchmark, split_indices
from vosgan.exploration.explore import latent_effects
from vosgan.segmentation.baselines import ThresholdBaseline, median_difference
from vosgan.segmentation.evaluation import RealClips, SegmenterEvaluation, score_predictions

SMALL = {"count": 20, "frames": 16, "size": 32}


def test_frozen_clips_repeat_the_first_frame_and_mask():
    clips = RealClips.benchmark("val", **SMALL)
    frozen = clips.frozen()
    for name, frames in frozen.frames.items():
        assert frames.shape == clips.frames[name].shape
        assert (frames == clips.frames[name][0]).all() and (frozen.masks[name] == clips.masks[name][0]).all()


def test_perfect_and_empty_predictions_score_one_and_zero():
    clips = RealClips.benchmark("val", **SMALL)
    assert score_predictions(clips, clips.masks)["J"] == pytest.approx(1.0)
    empty = {n: np.zeros_like(m) for n, m in clips.masks.items()}
    assert score_predictions(clips, empty)["J"] == pytest.approx(0.0, abs=0.05)  # only frames without objects score


def test_median_baseline_finds_objects_on_a_static_camera_and_fails_on_frozen_clips():
    train = RealClips.benchmark("train", **SMALL)
    base = ThresholdBaseline("median").fit(train.pairs())
    val = RealClips.benchmark("val", **SMALL)
    pred = {n: base.predict(f) for n, f in val.frames.items()}
    assert score_predictions(val, pred)["J"] > 0.5
    frozen = val.frozen()  # the median of a frozen clip is the clip: nothing is foreground
    assert all(median_difference(f).max() == 0 for f in frozen.frames.values())


def test_unlabeled_pool_is_disjoint_from_every_evaluation_split():
    pool = make_benchmark(3, 16, 32, seed=0, split="unlabeled")
    evaluation = make_benchmark(20, 16, 32, seed=0)
    assert not any((p.frames == e.frames).all() for p in pool for e in evaluation)
    assert UNLABELED_OFFSET > 10**5 and sorted(sum(split_indices(20, 0).values(), [])) == list(range(20))
    with pytest.raises(ValueError, match="split"):
        make_benchmark(3, 16, 32, split="training")


def test_latent_effects_measure_which_space_moves_the_mask(tiny_models):
    _, gen, _ = tiny_models
    effects = latent_effects(gen, pairs=2, steps=3)
    assert set(effects) == {"zm_mask", "zm_foreground", "zc_background", "zc_mask"}
    assert effects["zc_background"] > 0  # z_C drives the background stream
    # a generator whose mask ignores z_M: zero the motion features' first layer
    torch.nn.init.zeros_(gen.motion_features[0][0].weight)
    assert latent_effects(gen, pairs=2, steps=3)["zm_mask"] == pytest.approx(0.0, abs=1e-6)


def test_monitor_logs_scores_and_keeps_the_best_snapshot(tmp_path, tiny_dataset):
    from vosgan.config import get_preset
    from vosgan.models.checkpoint import load_checkpoint
    from vosgan.training.callbacks import SegmenterMonitor
    from vosgan.training.distributed import DistInfo
    from vosgan.training.trainer import Trainer

    evaluation = SegmenterEvaluation("val", benchmark=SMALL)
    assert set(evaluation.baseline_rows()) == {"flow magnitude baseline", "temporal-median baseline"}
    trainer = Trainer(get_preset("tiny"), tiny_dataset, DistInfo.single(torch.device("cpu")), seed=0)
    monitor = SegmenterMonitor(tmp_path, 1, evaluation)
    trainer.fit(2, [monitor], progress=False)
    rows = [json.loads(line) for line in (tmp_path / "evaluation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for key in (
        "J",
        "F",
        "J_frozen",
        "motion_sensitivity",
        "flow_epe",
        "flow_epe_zero",
        "zm_mask",
        "J_median_baseline",
    ):
        assert all(np.isfinite(r[key]) for r in rows)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["scores"]["J"] == max(r["J"] for r in rows) and best["step"] in (1, 2)
    assert rows[0]["J_flow_baseline"] == rows[1]["J_flow_baseline"]  # computed once


def test_screening_row_takes_the_best_val_step_and_names_the_options(tmp_path):
    from vosgan.config import get_preset
    from vosgan.experiments.screening import markdown_table, summarize_run

    cfg = get_preset("tiny").with_overrides(loss={"flow_weight": 10.0}, train={"g_steps": 2})
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_dict()))
    steps = [{"step": s, "real_score": 0.9, "fake_score": 0.1 + 0.001 * s} for s in range(1, 201)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in steps))
    evals = [
        {"step": 100, "J": 0.4, "J_frozen": 0.1, "J_flow_baseline": 0.3},
        {"step": 200, "J": 0.2, "J_flow_baseline": 0.3},
    ]
    (tmp_path / "evaluation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
    row = summarize_run(tmp_path, masks=False)
    assert row["options"] == "flow_weight=10.0, g_steps=2" and row["steps"] == 200
    assert row["best step"] == 100 and row["J"] == 0.4 and row["J_frozen"] == 0.1 and row["last J"] == 0.2
    assert row["D(x)"] == pytest.approx(0.9) and row["D(G(z))"] == pytest.approx(
        np.mean([s["fake_score"] for s in steps[-100:]])
    )
    table = markdown_table([row])
    assert table.count("\n") == 2 and "| 0.400 |" in table and "| - |" in table  # missing columns shown as -
