"""The kit under careless and hostile use: each case asserts the exit code, that nothing was lost, and
that the message names the bad input and the fix (the campaign of the reliability issue)."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
from formats import evaluate_args
from PIL import Image

from vosgan.cli.main import main
from vosgan.config import get_preset
from vosgan.data.flow import FlowCache
from vosgan.data.io import DataError, davis_palette, read_image, write_image, write_indexed_png
from vosgan.data.synthetic import make_clip
from vosgan.models.checkpoint import CheckpointError, load_checkpoint, load_models, save_checkpoint
from vosgan.training.distributed import DistInfo
from vosgan.training.loop import Callback, Checkpointer
from vosgan.training.trainer import Trainer, TrainingDiverged

CPU = DistInfo.single(torch.device("cpu"))


@pytest.fixture
def checkpoint(tmp_path, tiny_models):
    cfg, gen, disc = tiny_models
    return save_checkpoint(
        tmp_path / "tiny.pt",
        {"config": cfg.to_dict(), "generator": gen.state_dict(), "discriminator": disc.state_dict()},
    )


def frames_folder(root, name="clip", frames=4, size=32):
    for t, frame in enumerate(make_clip(0, frames, size).frames):
        write_image(root / name / f"{t:05d}.jpg", frame)
    return root / name


def run(args, capsys) -> tuple[int, str]:
    """``vosgan ARGS``: exit code and what it printed to stderr (argparse errors included)."""
    try:
        code = main(args)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


# ------------------------------------------------------------------ numeric options, at the parser
@pytest.mark.parametrize(
    "args, option",
    [
        (["data", "synth", "--out", "x", "--videos", "-3"], "--videos"),
        (["data", "synth", "--out", "x", "--videos", "0"], "--videos"),
        (["data", "synth", "--out", "x", "--size", "7"], "--size"),
        (["data", "synth", "--out", "x", "--size", "0"], "--size"),
        (["data", "synth", "--out", "x", "--frames", "1"], "--frames"),
        (["data", "synth", "--out", "x", "--difficulty", "5"], "--difficulty"),
        (["train", "--out", "x", "--iterations", "0"], "--iterations"),
        (["train", "--out", "x", "--iterations", "-5"], "--iterations"),
        (["train", "--out", "x", "--lr", "nan"], "--lr"),
        (["train", "--out", "x", "--ema", "1"], "--ema"),
        (["segment", "--checkpoint", "c", "--input", "i", "--out", "o", "--batch-size", "0"], "--batch-size"),
        (["segment", "--checkpoint", "c", "--input", "i", "--out", "o", "--threshold", "2"], "--threshold"),
        (["segment", "--checkpoint", "c", "--input", "i", "--out", "o", "--threshold", "0"], "--threshold"),
        (["finetune", "--checkpoint", "c", "--out", "o", "--iterations", "0"], "--iterations"),
        (["finetune", "--checkpoint", "c", "--out", "o", "--batch-size", "0"], "--batch-size"),
        (["finetune", "--checkpoint", "c", "--out", "o", "--label-fraction", "0"], "--label-fraction"),
    ],
)
def test_numeric_options_are_checked_at_the_parser(args, option, capsys):
    code, err = run(args, capsys)
    assert code == 2 and f"argument {option}: must be" in err


# --------------------------------------------------------------------------------- data loss
def test_segment_never_overwrites_masks_silently(tmp_path, checkpoint, capsys):
    source = frames_folder(tmp_path / "in", frames=10)
    out = tmp_path / "pred"
    base = ["segment", "--checkpoint", str(checkpoint), "--input", str(source), "--out", str(out), "--no-progress"]
    assert run(base, capsys)[0] == 0 and len(list((out / "clip").glob("*.png"))) == 10
    before = (out / "clip" / "00000.png").stat().st_mtime_ns
    code, err = run(base, capsys)
    assert code == 2 and "--overwrite" in err and "clip" in err
    assert (out / "clip" / "00000.png").stat().st_mtime_ns == before
    # a shorter video into the same folder with --overwrite leaves no stale masks behind
    short = tmp_path / "in2" / "clip"
    short.mkdir(parents=True)
    (source / "00000.jpg").rename(short / "00000.jpg")
    args = ["segment", "--checkpoint", str(checkpoint), "--input", str(short), "--out", str(out), "--no-progress"]
    assert run([*args, "--overwrite"], capsys)[0] == 0
    assert [p.name for p in (out / "clip").glob("*.png")] == ["00000.png"]


def test_segment_never_writes_into_the_inputs_annotations(tmp_path, checkpoint, capsys):
    root = tmp_path / "davis"
    frames_folder(root / "JPEGImages", "seq")
    for t in range(4):
        write_indexed_png(root / "Annotations" / "seq" / f"{t:05d}.png", np.ones((32, 32), np.uint8))
    before = (root / "Annotations" / "seq" / "00000.png").read_bytes()
    args = ["segment", "--checkpoint", str(checkpoint), "--input", str(root), "--out", str(root / "Annotations")]
    code, err = run([*args, "--overwrite", "--no-progress"], capsys)
    assert code == 2 and "inside the input" in err
    assert (root / "Annotations" / "seq" / "00000.png").read_bytes() == before


@pytest.mark.parametrize("command", ["finetune", "export"])
def test_finetune_and_export_never_replace_their_input_or_an_existing_file(tmp_path, checkpoint, command, capsys):
    before = checkpoint.read_bytes()
    extra = (
        ["--videos", "12", "--iterations", "1", "--batch-size", "2", "--no-progress"] if command == "finetune" else []
    )
    code, err = run([command, "--checkpoint", str(checkpoint), "--out", str(checkpoint), "--overwrite", *extra], capsys)
    assert code == 2 and "is one of the inputs" in err and checkpoint.read_bytes() == before
    other = tmp_path / "other.pt"
    other.write_bytes(b"keep me")
    code, err = run([command, "--checkpoint", str(checkpoint), "--out", str(other), *extra], capsys)
    assert code == 2 and "--overwrite" in err and other.read_bytes() == b"keep me"
    assert run([command, "--checkpoint", str(checkpoint), "--out", str(other), "--overwrite", *extra], capsys)[0] == 0
    assert load_checkpoint(other)["config"]["name"] == "tiny"


def test_non_finite_weights_never_replace_the_last_good_checkpoint(tiny_dataset, tmp_path):
    trainer = Trainer(get_preset("tiny"), tiny_dataset, CPU, seed=0)
    saver = Checkpointer(tmp_path / "checkpoint.pt", every=1)
    trainer.fit(1, [saver], progress=False)
    good = (tmp_path / "checkpoint.pt").read_bytes()
    with torch.no_grad():
        next(trainer.D.parameters())[0] = float("nan")
    saver.save(trainer)
    assert (tmp_path / "checkpoint.pt").read_bytes() == good
    trainer.bad_steps, trainer.max_bad_steps = 0, 1
    trainer._update = lambda optimizer, loss: False  # every update skipped: the divergence guard fires
    with pytest.raises(TrainingDiverged, match=r"checkpoint.pt \(step 1\)"):
        trainer.fit(5, progress=False)


def test_resume_after_a_kill_drops_duplicate_log_lines_and_partial_writes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--videos", "30", "--out", str(out), "--no-progress", "--sample-every", "0"]
    assert main([*args, "--iterations", "2"]) == 0
    with (out / "metrics.jsonl").open("a") as f:  # steps logged after the checkpoint, then a SIGKILL
        f.write(json.dumps({"step": 3}) + "\n" + '{"step": 4, "d_lo')
    (out / ".checkpoint.pt.abc123.tmp").write_bytes(b"partial")
    assert main([*args, "--iterations", "3", "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3] and not list(out.glob("*.tmp"))
    assert "dropped 2 line(s)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------- crashes
def test_a_frame_folder_named_with_non_utf8_bytes_is_read(tmp_path, checkpoint, capsys):
    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9")
    frames_folder(type(tmp_path)(folder).parent, os.path.basename(folder))
    assert read_image(os.path.join(folder, "00000.jpg")).shape == (32, 32, 3)
    out = tmp_path / "pred"
    assert run(["segment", "--checkpoint", str(checkpoint), "--input", folder, "--out", str(out)], capsys)[0] == 0
    assert len(list(out.iterdir())) == 1


def test_a_video_named_with_non_utf8_bytes_is_refused_clearly(tmp_path, checkpoint, capsys):
    from vosgan.data.io import write_video

    write_video(tmp_path / "ok.avi", make_clip(0, 4, 32).frames)
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/clip\xff.avi")
    os.rename(tmp_path / "ok.avi", bad)
    code, err = run(["segment", "--checkpoint", str(checkpoint), "--input", bad, "--out", str(tmp_path / "p")], capsys)
    assert code == 2 and "not valid UTF-8" in err and "rename" in err


# --------------------------------------------------------------------------- silently wrong
def test_rgb_masks_in_davis_colours_are_read_by_their_palette(tmp_path, capsys):
    ids = np.zeros((4, 32, 32), np.uint8)
    ids[:, 8:16, 8:16], ids[:, 20:28, 20:28] = 1, 2
    palette = np.array(davis_palette(), np.uint8).reshape(256, 3)
    for t in range(4):
        write_indexed_png(tmp_path / "gt" / "s" / f"{t:05d}.png", ids[t])
        (tmp_path / "pred" / "s").mkdir(parents=True, exist_ok=True)
        Image.fromarray(palette[ids[t]]).save(tmp_path / "pred" / "s" / f"{t:05d}.png")  # RGB, (128, 0, 0) etc.
    args = evaluate_args(tmp_path)
    assert run(args, capsys)[0] == 0
    assert json.loads((tmp_path / "r.json").read_text())["global"]["J-Mean"] == 1.0
    Image.fromarray(np.full((32, 32, 3), (10, 200, 3), np.uint8)).save(tmp_path / "pred" / "s" / "00001.png")
    code, err = run([*args, "--overwrite"], capsys)
    assert code == 2 and "00001.png" in err and "outside the DAVIS palette" in err


def test_grey_0_255_masks_need_binary(tmp_path, capsys):
    for t in range(3):
        write_indexed_png(tmp_path / "gt" / "s" / f"{t:05d}.png", np.pad(np.ones((8, 8), np.uint8), 4))
        (tmp_path / "pred" / "s").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 4)).save(tmp_path / "pred" / "s" / f"{t:05d}.png")
    args = ["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]
    code, err = run(args, capsys)
    assert code == 2 and "--binary" in err and "greyscale" in err
    assert run([*args, "--binary", "--json", str(tmp_path / "r.json")], capsys)[0] == 0
    assert json.loads((tmp_path / "r.json").read_text())["global"]["J-Mean"] == 1.0


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path, tiny_models, capsys):
    cfg, gen, disc = tiny_models
    weights = disc.state_dict()
    weights[next(iter(weights))] = torch.full_like(weights[next(iter(weights))], float("nan"))
    path = save_checkpoint(
        tmp_path / "nan.pt", {"config": cfg.to_dict(), "generator": gen.state_dict(), "discriminator": weights}
    )
    source = frames_folder(tmp_path / "in")
    code, err = run(
        ["segment", "--checkpoint", str(path), "--input", str(source), "--out", str(tmp_path / "p")], capsys
    )
    assert code == 2 and "NaN" in err and "nan.pt" in err and "earlier checkpoint" in err


def test_a_nan_flow_cache_entry_is_recomputed(tmp_path):
    cache = FlowCache(tmp_path)
    frames = make_clip(0, 4, 32).frames
    good = cache(frames)
    np.save(cache.path(frames), np.full_like(good, np.nan).astype(np.float16))
    again = cache(frames)
    assert np.isfinite(again).all() and np.allclose(again, good)


def test_sigterm_exits_non_zero_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    class Terminate(Callback):
        def on_step(self, trainer, metrics):
            if trainer.step == 1:
                os.kill(os.getpid(), signal.SIGTERM)

    import vosgan.training.trainer

    original = vosgan.training.trainer.Trainer.fit
    monkeypatch.setattr(
        vosgan.training.trainer.Trainer,
        "fit",
        lambda self, n, cbs=(), progress=True: original(self, n, [Terminate(), *cbs], progress),
    )
    out = tmp_path / "run"
    code = main(
        ["train", "--preset", "tiny", "--videos", "30", "--iterations", "5", "--out", str(out), "--no-progress"]
    )
    assert code == 128 + signal.SIGTERM
    printed = capsys.readouterr().out
    assert "stopped by SIGTERM at step 1" in printed and "--resume" in printed and str(out / "checkpoint.pt") in printed
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 1


def test_resume_of_a_missing_run_is_an_error(tmp_path, capsys):
    code, err = run(
        ["train", "--preset", "tiny", "--videos", "30", "--out", str(tmp_path / "nope"), "--resume"], capsys
    )
    assert code == 2 and "nothing to resume" in err and "drop --resume" in err
    assert not (tmp_path / "nope" / "checkpoint.pt").exists()


# ------------------------------------------------------------- raw tracebacks, unhelpful errors
def test_an_out_that_cannot_be_a_folder_fails_before_loading_data(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, err = run(["train", "--preset", "tiny", "--out", str(tmp_path / "file" / "run")], capsys)
    assert code == 2 and "file" in err


def test_evaluate_json_that_is_a_folder(tmp_path, capsys):
    code, err = run(["evaluate", "--gt", str(tmp_path), "--pred", str(tmp_path), "--json", str(tmp_path)], capsys)
    assert code == 2 and "--json" in err and "is a folder" in err


def test_resuming_an_export_says_it_is_one(tmp_path, checkpoint, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(checkpoint.read_bytes())
    code, err = run(["train", "--preset", "tiny", "--videos", "30", "--out", str(tmp_path / "run"), "--resume"], capsys)
    assert code == 2 and "weights-only export" in err and "cannot resume" in err


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", r"empty \(0 bytes\)"),
        (os.urandom(256), "not a readable PyTorch checkpoint"),
    ],
)
def test_unreadable_checkpoints_say_why_and_never_advise_unsafe_loading(tmp_path, content, expected):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected) as err:
        load_models(path)
    assert "bad.pt" in str(err.value) and "weights_only=False" not in str(err.value)


def test_incomplete_and_mismatched_checkpoints_are_named_briefly(tmp_path, tiny_models):
    cfg, gen, disc = tiny_models
    path = save_checkpoint(tmp_path / "half.pt", {"config": cfg.to_dict(), "generator": gen.state_dict()})
    with pytest.raises(CheckpointError, match="half.pt is incomplete: it has no 'discriminator' weights"):
        load_models(path)
    weights = {k: v for k, v in disc.state_dict().items() if "motion" not in k}
    path = save_checkpoint(
        tmp_path / "cut.pt", {"config": cfg.to_dict(), "generator": gen.state_dict(), "discriminator": weights}
    )
    with pytest.raises(CheckpointError, match=r"cut.pt: the discriminator weights do not fit") as err:
        load_models(path)
    assert len(str(err.value).splitlines()) == 1 and "missing" in str(err.value)


def test_a_full_disk_is_named_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", {"config": {}, "generator": {}, "discriminator": {}})

    def full(obj, f):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file: file write failed"
        )

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match="no space left on the device.*previous file is untouched"):
        save_checkpoint(path, {"config": {}, "generator": {}, "discriminator": {}})
    assert load_checkpoint(path)["config"] == {}


def test_segment_skips_a_corrupt_video_writes_the_rest_and_exits_non_zero(tmp_path, checkpoint, capsys):
    from vosgan.data.io import write_video

    videos = tmp_path / "videos"
    write_video(videos / "good.avi", make_clip(0, 4, 32).frames)
    (videos / "broken.mp4").write_bytes(b"\x00" * 1000)
    write_video(videos / "zz_after.avi", make_clip(1, 4, 32).frames)
    code, err = run(
        [
            "segment",
            "--checkpoint",
            str(checkpoint),
            "--input",
            str(videos),
            "--out",
            str(tmp_path / "p"),
            "--no-progress",
        ],
        capsys,
    )
    assert code == 2 and "skipped broken" in err and "1 of 3 sequence(s) could not be segmented" in err
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["good", "zz_after"]


def test_read_image_errors_name_the_file(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="x.jpg"):
        read_image(tmp_path / "x.jpg")


def test_segment_streams_frames_instead_of_decoding_whole_videos(tmp_path, checkpoint, monkeypatch):
    import vosgan.data.readers as readers
    from vosgan.models.checkpoint import load_models
    from vosgan.segmentation.video import segment_frames, segment_path

    source = frames_folder(tmp_path / "in", frames=20, size=64)
    cfg, _, disc = load_models(checkpoint)
    expected = segment_frames(disc, cfg, readers.read_frame_folder(source)).masks()
    monkeypatch.setattr(readers, "read_frame_folder", lambda folder: pytest.fail("decoded the whole video at once"))
    segment_path(disc, cfg, source, tmp_path / "p", progress=False)
    written = np.stack([np.array(Image.open(tmp_path / "p" / "clip" / f"{t:05d}.png")) for t in range(20)])
    assert np.array_equal(written, expected)  # frame by frame gives the same masks as the whole video
