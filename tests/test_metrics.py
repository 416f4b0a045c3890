"""DAVIS metrics on hand-computed cases, pinning the official evaluation's semantics."""

import json

import numpy as np
import pytest
from formats import evaluate_args

from vosgan.cli.main import main
from vosgan.data.io import DataError, write_indexed_png
from vosgan.metrics.davis import boundary_map, disk, f_measure, jaccard, statistics, tolerance
from vosgan.metrics.evaluate import evaluate_arrays, evaluate_folders, evaluate_sequence


def square(size=64, top=10, left=10, side=10):
    m = np.zeros((size, size), np.uint8)
    m[top : top + side, left : left + side] = 1
    return m


def test_jaccard_hand_cases():
    assert jaccard(square(), square(left=12)) == pytest.approx(80 / 120)
    assert jaccard(np.zeros((8, 8)), np.zeros((8, 8))) == 1.0  # both empty
    assert jaccard(np.zeros((8, 8)), square(8, 1, 1, 3)) == 0.0
    assert jaccard(square(), square(left=40)) == 0.0


def test_tolerance_is_ceil_of_0008_diagonal():
    assert tolerance((64, 64)) == 1  # 0.008 * 90.5 = 0.72
    assert tolerance((480, 854)) == 8  # 0.008 * 979.7 = 7.84
    assert disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def test_boundary_map_of_a_square():
    b = boundary_map(square(10, 2, 2, 4))
    # The right/lower edges of the square and the row/column before its top/left edges.
    assert b[5, 2:6].all() and b[2:6, 5].all() and b[1, 2:5].all() and b[2:5, 1].all()
    assert not b[3, 3] and not b[8, 8]


def test_f_measure_tolerance_cases():
    assert f_measure(square(), square()) == 1.0
    assert f_measure(square(), square(left=11)) == 1.0  # a 1-pixel shift is within 1 pixel
    assert f_measure(square(), square(left=14)) < 0.7  # 4 pixels is beyond it
    big = lambda left: square(480, 100, left, 200)[:, :480]
    assert f_measure(big(100), big(106)) == 1.0  # 6 px within the 8 px tolerance of a 480x480 frame
    assert f_measure(np.zeros((8, 8)), np.zeros((8, 8))) == 1.0
    assert f_measure(square(16, 4, 4, 4), np.zeros((16, 16))) == 0.0  # nothing predicted: recall 0
    assert f_measure(np.zeros((16, 16)), square(16, 4, 4, 4)) == 0.0  # nothing to find: precision 0


def test_statistics_mean_recall_decay():
    m, o, d = statistics(np.array([0.9, 0.6, 0.5, 0.2]))
    assert m == pytest.approx(0.55) and o == 0.5  # 0.5 is not strictly above 0.5
    # 8 frames: quartile bins [0:3], [2:5], [4:6], [5:8]; decay = mean(bin 1) - mean(bin 4).
    m, o, d = statistics(np.array([1, 1, 1, 1, 0, 0, 0, 0], float))
    assert d == pytest.approx(1.0)
    _, _, d = statistics(np.array([1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0]))
    assert d == pytest.approx((1 + 0.5 + 0.5) / 3 - (0.5 + 0.5 + 0.0) / 3)


def test_first_and_last_frames_are_not_scored():
    gt = np.stack([square()] * 5)
    pred = gt.copy()
    pred[0], pred[-1] = 0, 0
    out = evaluate_sequence(gt, pred, "seq")
    assert out["seq_1"]["J-Mean"] == 1.0 and out["seq_1"]["F-Mean"] == 1.0


def test_objects_come_from_the_first_frame_and_global_averages_objects():
    gt = np.stack([square()] * 4)
    gt[2:, 40:50, 40:50] = 2  # object 2 appears after the first frame: not evaluated
    assert list(evaluate_sequence(gt, np.minimum(gt, 1), "a")) == ["a_1"]
    with pytest.raises(DataError, match="object id 2"):  # as the official code, ids beyond the objects are refused
        evaluate_sequence(gt, gt, "a")
    two = np.stack([square() + 2 * square(left=40)] * 4)
    swapped = np.stack([2 * square() + square(left=40)] * 4)
    res = evaluate_arrays({"a": np.stack([square()] * 4), "b": two}, {"a": np.stack([square()] * 4), "b": swapped})
    assert set(res["per_sequence"]) == {"a_1", "b_1", "b_2"}
    assert res["global"]["J-Mean"] == pytest.approx(1 / 3)  # objects, not sequences: (1 + 0 + 0) / 3
    binary = evaluate_arrays({"b": two}, {"b": swapped}, binary=True)
    assert binary["global"]["J-Mean"] == 1.0 and list(binary["per_sequence"]) == ["b_1"]


def test_void_pixels_are_background():
    gt = np.stack([square()] * 3)
    gt[:, 0, 0] = 255
    assert evaluate_sequence(gt, np.stack([square()] * 3), "v")["v_1"]["J-Mean"] == 1.0


def test_bad_inputs_name_the_sequence():
    with pytest.raises(DataError, match="'s1'"):
        evaluate_sequence(np.zeros((4, 8, 8), np.uint8), np.zeros((4, 9, 8), np.uint8), "s1")
    with pytest.raises(DataError, match="object id 3"):
        evaluate_sequence(np.stack([square()] * 3), np.stack([3 * square()] * 3), "s2")


def _write(root, name, masks):
    for t, m in enumerate(masks):
        write_indexed_png(root / name / f"{t:05d}.png", m)


def test_cli_evaluate_folders(tmp_path, capsys):
    gt = np.stack([square(left=10 + t) for t in range(6)])
    pred = np.stack([square(left=12 + t) for t in range(6)])
    _write(tmp_path / "gt", "car", gt)
    _write(tmp_path / "pred", "car", pred)
    assert main(evaluate_args(tmp_path)) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert set(res["global"]) == {"J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"}
    assert res["global"]["J-Mean"] == pytest.approx(80 / 120)
    assert res["per_sequence"]["car_1"]["J-Recall"] == 1.0
    assert "J&F-Mean" in capsys.readouterr().out
    _write(tmp_path / "short", "car", pred[:4])
    with pytest.raises(DataError, match="'car'"):
        evaluate_folders(tmp_path / "gt", tmp_path / "short")


def test_cli_evaluate_warns_on_single_id_predictions_and_scores_a_subset(tmp_path, capsys):
    """Two objects in the ground truth, one id in the prediction (an unsupervised method's masks):
    without --binary only object 1 can match, so the command says so; --sequences scores a subset."""
    two = np.stack([square(left=10 + t) + 2 * square(left=40 + t) for t in range(5)])
    one = (two > 0).astype(np.uint8)
    for name in ("cars", "dogs"):
        _write(tmp_path / "gt", name, two)
        _write(tmp_path / "pred", name, one)
    _write(tmp_path / "gt", "solo", np.stack([square(left=10 + t) for t in range(5)]))
    _write(tmp_path / "pred", "solo", np.stack([square(left=10 + t) for t in range(5)]))
    args = ["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--workers", "1"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "warning: the predictions of 2 sequence(s) (cars, dogs)" in captured.err and "--binary" in captured.err
    assert main([*args, "--binary"]) == 0
    binary = capsys.readouterr()
    assert "warning" not in binary.err and "cars_1" in binary.out and "cars_2" not in binary.out
    assert main([*args, "--sequences", "solo"]) == 0
    subset = capsys.readouterr()
    assert "warning" not in subset.err and "solo_1" in subset.out and "cars" not in subset.out
    assert main([*args, "--sequences", "solo,cats"]) == 2
    assert "no ground truth for sequence(s) cats" in capsys.readouterr().err


def test_semi_supervised_never_reads_the_first_and_last_prediction_frames(tmp_path):
    gt = np.stack([square(left=10 + t) for t in range(5)])
    pred = gt.copy()
    pred[0] = 2 * square(left=30)  # a spurious id 2 on the annotated frame, as semi-supervised methods write it
    pred[-1] = 3 * square(left=40)
    assert evaluate_sequence(gt, pred, "s")["s_1"]["J-Mean"] == 1.0
    _write(tmp_path / "gt", "s", gt)
    _write(tmp_path / "pred", "s", pred)
    assert evaluate_folders(tmp_path / "gt", tmp_path / "pred")["global"]["J-Mean"] == 1.0
    # the first and last prediction frames may be missing, of another size, or extra frames may follow
    (tmp_path / "pred" / "s" / "00000.png").unlink()
    write_indexed_png(tmp_path / "pred" / "s" / "00004.png", np.zeros((7, 9), np.uint8))
    write_indexed_png(tmp_path / "pred" / "s" / "00009.png", 5 * square())
    assert evaluate_folders(tmp_path / "gt", tmp_path / "pred")["global"]["J-Mean"] == 1.0


def test_semi_supervised_errors_where_the_official_code_aborts(tmp_path):
    gt = np.stack([square(left=10 + t) for t in range(5)])
    pred = gt.copy()
    pred[2] = 2 * square(left=30)  # an id above the first frame's object count on a scored frame
    with pytest.raises(DataError, match="frame 2 of the prediction has object id 2"):
        evaluate_sequence(gt, pred, "s")
    _write(tmp_path / "gt", "s", gt)
    _write(tmp_path / "pred", "s", np.delete(gt, 3, axis=0))  # frame 00003 missing, later frames renumbered
    (tmp_path / "pred" / "s" / "00003.png").unlink()
    with pytest.raises(DataError, match="frame '00003'"):
        evaluate_folders(tmp_path / "gt", tmp_path / "pred")
    write_indexed_png(tmp_path / "pred" / "s" / "00003.png", np.zeros((32, 32), np.uint8))
    with pytest.raises(DataError, match="00003.png is \\(32, 32\\)"):
        evaluate_folders(tmp_path / "gt", tmp_path / "pred")


def unsupervised_scene():
    """Two objects over 4 frames: a at left 10, b at left 40 (ids 1 and 2)."""
    a, b = square(left=10), square(left=40)
    return np.stack([a + 2 * b] * 4)


def test_unsupervised_matches_swapped_ids():
    gt = unsupervised_scene()
    swapped = np.where(gt == 1, 2, np.where(gt == 2, 1, 0)).astype(np.uint8)
    res = evaluate_arrays({"v": gt}, {"v": swapped}, task="unsupervised")
    assert res["global"]["J-Mean"] == 1.0 and res["global"]["F-Mean"] == 1.0
    semi = evaluate_arrays({"v": gt}, {"v": swapped})  # without matching, both objects are missed
    assert semi["global"]["J-Mean"] == 0.0


def test_unsupervised_missing_object_and_extra_proposals():
    gt = unsupervised_scene()
    only_a = (gt == 1).astype(np.uint8)
    res = evaluate_arrays({"v": gt}, {"v": only_a}, task="unsupervised")
    assert res["per_sequence"]["v_1"]["J-Mean"] == 1.0 and res["per_sequence"]["v_2"]["J-Mean"] == 0.0
    # three proposals for two objects: noise (id 1), exactly b (id 2), the left half of a (id 3)
    pred = np.zeros_like(gt)
    pred[:, 0:3, 0:3] = 1
    pred[gt == 2] = 2
    pred[:, 10:20, 10:15] = 3
    res = evaluate_arrays({"v": gt}, {"v": pred}, task="unsupervised")
    assert res["per_sequence"]["v_1"]["J-Mean"] == pytest.approx(0.5)  # a -> id 3 (J 0.5 beats the noise's 0)
    assert res["per_sequence"]["v_2"]["J-Mean"] == 1.0  # b -> id 2
    with pytest.raises(DataError, match="at most 20"):
        evaluate_arrays({"v": gt}, {"v": np.full_like(gt, 21)}, task="unsupervised")


def test_unsupervised_leaves_void_pixels_out():
    gt = np.stack([square(left=10)] * 3)
    gt[:, 10:20, 15:20] = 255  # the right half of the object is void
    pred = np.stack([square(left=10)] * 3)
    pred[:, 10:15, 15:20] = 0  # the prediction differs from the object only inside the void region
    assert evaluate_arrays({"v": gt}, {"v": pred}, task="unsupervised")["global"]["J-Mean"] == 1.0
    assert evaluate_arrays({"v": gt}, {"v": pred})["global"]["J-Mean"] < 1.0  # semi: void is background


def test_cli_evaluate_task_option(tmp_path, capsys):
    gt = unsupervised_scene()
    _write(tmp_path / "gt", "v", gt)
    _write(tmp_path / "pred", "v", np.where(gt == 1, 2, np.where(gt == 2, 1, 0)).astype(np.uint8))
    args = evaluate_args(tmp_path)
    assert main([*args, "--task", "unsupervised", "--workers", "1"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["global"]["J-Mean"] == 1.0


def test_cropped_frame_measures_equal_the_full_frame_definitions():
    import cv2

    from vosgan.metrics.davis import frame_measures

    rng = np.random.default_rng(0)
    for case in range(60):
        h, w = (int(v) for v in rng.integers(6, 90, 2))
        gt, pred = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
        for ids in (gt, pred):
            for k in range(1, 4):
                if rng.random() < 0.8:
                    x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(1, 25))
                    cv2.circle(ids, (x, y), r, k, -1)
        void = rng.random((h, w)) < 0.05 if case % 2 else None
        pairs = [(g, p) for g in (1, 2, 3) for p in (1, 2, 3, 4)]
        j, f = frame_measures(gt, pred, pairs, void)
        for i, (g, p) in enumerate(pairs):
            assert j[i] == pytest.approx(jaccard(gt == g, pred == p, void))
            assert f[i] == pytest.approx(f_measure(gt == g, pred == p, void=void))
