"""Action recognition from the discriminator (Tables 9-12) and the unlabeled-data curve (Fig. 8)."""

import numpy as np
import pytest
import torch

from vosgan.config import get_preset
from vosgan.experiments.representation import ActionClassifier, LabelledVideos, accuracy, recognise, weizmann_split
from vosgan.models import Discriminator


def _separable(n: int = 40, frames: int = 8, size: int = 32) -> LabelledVideos:
    """Two classes told apart by brightness alone: any encoder's pooled features separate them."""
    labels = torch.arange(n) % 2
    video = torch.rand(n, 3, frames, size, size) * 0.2 + torch.where(labels == 1, 0.5, -0.5).view(-1, 1, 1, 1, 1)
    return LabelledVideos(video, labels, ("dark", "bright"))


def test_transfer_learns_a_separable_task_and_leaves_the_encoder_untouched():
    torch.manual_seed(0)
    disc = Discriminator(get_preset("tiny"))
    before = {k: v.clone() for k, v in disc.shared.state_dict().items()}
    data = _separable()
    assert recognise(disc, data, data, "transfer", steps=150) >= 0.95
    assert all(torch.equal(before[k], v) for k, v in disc.shared.state_dict().items())  # a copy is trained


def test_finetune_trains_the_encoder_and_accuracy_is_counted_by_hand():
    torch.manual_seed(0)
    disc = Discriminator(get_preset("tiny"))
    data = _separable()
    assert recognise(disc, data, data, "finetune", steps=60) >= 0.9
    model = ActionClassifier(disc, 2)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([1.0, 0.0]))  # always "dark": right on exactly half
    assert accuracy(model, data) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown mode"):
        recognise(disc, data, data, "linear")


def test_benchmark_labels_are_motion_kinds_and_weizmann_split_leaves_people_out():
    data = LabelledVideos.benchmark(40, "train", frames=8, size=32)
    assert data.video.shape[1:] == (3, 8, 32, 32) and len(data) == 28
    assert "still" not in data.classes and int(data.labels.max()) < len(data.classes)

    class S:
        def __init__(self, name):
            self.name = name

    seqs = [S(f"{p}_{a}") for p in ("ann", "bob", "cid", "dan") for a in ("run", "jump")]
    train, test = weizmann_split(seqs, test_people=1)
    assert {s.name for s in test} == {"dan_run", "dan_jump"} and len(train) == 6


def test_weizmann_videos_through_the_reader(tmp_path):
    import cv2

    from vosgan.data.readers import read_weizmann

    for person in ("ann", "bob"):
        for action, level in (("run", 200), ("jump", 40)):
            writer = cv2.VideoWriter(
                str(tmp_path / f"{person}_{action}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (48, 40)
            )
            for _ in range(6):
                writer.write(np.full((40, 48, 3), level, np.uint8))
            writer.release()
    data = LabelledVideos.sequences(read_weizmann(tmp_path), frames=8, size=32)
    assert data.classes == ("jump", "run") and data.video.shape == (4, 3, 8, 32, 32)
    bright = data.video.mean((1, 2, 3, 4)) > 0
    assert (bright == (data.labels == 1)).all()


def test_unlabeled_curve_fits_the_least_squares_line():
    from vosgan.experiments.unlabeled import UnlabeledCurve

    rows = [
        {"fraction": f, "videos": int(100 * f), "J": 0.1 + 0.2 * f, "F": 0.3, "J_frozen": 0.1} for f in (0.1, 0.5, 1.0)
    ]
    slope, intercept = UnlabeledCurve(rows).line("J")
    assert slope == pytest.approx(0.2) and intercept == pytest.approx(0.1)
    assert "J = 20.0 x share + 10.0" in UnlabeledCurve(rows).table()


def test_unlabeled_curve_trains_one_gan_per_share(tmp_path):
    from vosgan.experiments.unlabeled import unlabeled_curve

    curve = unlabeled_curve(
        get_preset("tiny"), tmp_path, pool=8, fractions=(0.5, 1.0), iterations=2, test_count=20, threads=1, device="cpu"
    )
    assert [r["videos"] for r in curve.rows] == [4, 8]
    assert all(0 <= r["J"] <= 1 and 0 <= r["F"] <= 1 for r in curve.rows)
    assert (tmp_path / "share_050" / "checkpoint.pt").exists() and (tmp_path / "share_100" / "metrics.jsonl").exists()
    log = tmp_path / "share_100" / "metrics.jsonl"
    before = log.read_text()
    again = unlabeled_curve(
        get_preset("tiny"), tmp_path, pool=8, fractions=(1.0,), iterations=5, test_count=20, threads=1, device="cpu"
    )
    assert log.read_text() == before and again.rows[0]["J"] == curve.rows[1]["J"]  # a finished share is kept
    with pytest.raises(ValueError, match="shares"):
        unlabeled_curve(get_preset("tiny"), tmp_path / "x", pool=8, fractions=(1.5,), iterations=1)


def test_actions_cli_on_ucf101_fixture(tmp_path):
    from formats import write_ucf101

    from vosgan.cli.main import main
    from vosgan.models import Generator
    from vosgan.models.checkpoint import save_checkpoint

    cfg = get_preset("tiny")
    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(
        ckpt,
        {
            "config": cfg.to_dict(),
            "generator": Generator(cfg).state_dict(),
            "discriminator": Discriminator(cfg).state_dict(),
        },
    )
    root = write_ucf101(tmp_path / "ucf")
    args = [
        "actions",
        "--checkpoint",
        str(ckpt),
        "--data",
        str(root),
        "--format",
        "ucf101",
        "--split-dir",
        str(root / "ucfTrainTestlist"),
        "--seeds",
        "1",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "r.json"),
    ]
    assert main(args) == 0
    rows = __import__("json").loads((tmp_path / "r.json").read_text())
    assert [(r["discriminator"], r["mode"]) for r in rows] == [
        ("tiny", "transfer"),
        ("tiny", "finetune"),
        ("random init", "transfer"),
        ("random init", "finetune"),
    ]
    assert all(r["chance"] == 0.5 and r["accuracy"] in (0.0, 0.5, 1.0) for r in rows)  # 2 test clips
    assert main(args[:7]) == 2  # no --split-dir: a clear error, not a traceback
