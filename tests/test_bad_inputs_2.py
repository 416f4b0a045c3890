"""The second reliability campaign: names and links that would lead writes outside --out, files read
in the wrong order or by the wrong rule, and other methods' checkpoints given to the wrong command.
Each case failed on the kit before its fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vosgan.cli.main import main
from vosgan.data.io import DataError, list_images, read_mask, write_image, write_video
from vosgan.data.synthetic import make_clip
from vosgan.models.checkpoint import CheckpointError, load_models, save_checkpoint


@pytest.fixture
def checkpoint(tiny_checkpoint):
    return tiny_checkpoint


def run(args, capsys) -> tuple[int, str]:
    try:
        code = main(args)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def segment(checkpoint, source, out, *extra):
    return [
        "segment",
        "--checkpoint",
        str(checkpoint),
        "--input",
        str(source),
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


def test_a_video_named_dot_dot_never_becomes_a_sequence_folder(tmp_path, checkpoint, capsys):
    source = tmp_path / "in"
    write_video(source / "...avi", make_clip(0, 4, 32).frames)  # its stem is '..'
    write_video(source / "good.avi", make_clip(1, 4, 32).frames)
    work = tmp_path / "work"
    (work / "holiday.png").parent.mkdir(parents=True)
    (work / "holiday.png").write_bytes(b"a user's picture")
    for extra in ((), ("--overwrite",)):
        code, text = run(segment(checkpoint, source, work / "out", *extra), capsys)
        assert (work / "holiday.png").read_bytes() == b"a user's picture"
        assert not list(work.glob("0000*.png"))  # nothing written next to --out
        assert "'..'" in text and "plain file name" in text
        assert len(list((work / "out" / "good").glob("*.png"))) == 4


def test_links_inside_out_are_never_followed(tmp_path, checkpoint, capsys):
    source = tmp_path / "in" / "clip"
    for t, frame in enumerate(make_clip(0, 4, 32).frames):
        write_image(source / f"{t:05d}.jpg", frame)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for t in range(10):
        (elsewhere / f"{t:05d}.png").write_bytes(b"keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip").symlink_to(elsewhere)
    code, text = run(segment(checkpoint, source, out, "--overwrite"), capsys)
    assert code != 0 and "symbolic link" in text
    assert sorted(p.read_bytes() for p in elsewhere.iterdir()) == [b"keep"] * 10
    # an array link under _soft/ is not written through either
    os.unlink(out / "clip")
    outside = tmp_path / "outside.npy"
    outside.write_bytes(b"precious")
    (out / "_soft").mkdir()
    (out / "_soft" / "clip.npy").symlink_to(outside)
    code, text = run(segment(checkpoint, source, out, "--soft"), capsys)
    assert code == 2 and "_soft/clip.npy" in text and "--overwrite" in text
    code, text = run(segment(checkpoint, source, out, "--soft", "--overwrite"), capsys)
    assert outside.read_bytes() == b"precious" and "symbolic link" in text


def test_soft_and_flow_arrays_are_not_replaced_without_overwrite(tmp_path, checkpoint, capsys):
    source = tmp_path / "in" / "clip"
    for t, frame in enumerate(make_clip(0, 4, 32).frames):
        write_image(source / f"{t:05d}.jpg", frame)
    out = tmp_path / "out"
    assert run(segment(checkpoint, source, out, "--soft", "--flow"), capsys)[0] == 0
    for t in range(4):
        (out / "clip" / f"{t:05d}.png").unlink()  # the masks gone, the arrays still there
    before = (out / "_flow" / "clip.npy").stat().st_mtime_ns
    code, text = run(segment(checkpoint, source, out, "--soft", "--flow"), capsys)
    assert code == 2 and "_flow/clip.npy" in text and (out / "_flow" / "clip.npy").stat().st_mtime_ns == before


def test_frames_are_ordered_by_number_and_one_frame_in_two_files_is_refused(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(12):
        (folder / f"{t}.jpg").write_bytes(b"")
    assert [p.stem for p in list_images(folder)] == [str(t) for t in range(12)]
    os.mkfifo(folder / "12.jpg")  # a FIFO is never opened (it would hang the reader)
    assert len(list_images(folder)) == 12
    (folder / "3.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"3\.jpg, 3\.png"):
        list_images(folder)


def test_16_bit_annotations_are_read_by_value(tmp_path):
    ids = np.zeros((8, 8), np.uint16)
    ids[:4] = 1
    ids[4:, :4] = 300
    Image.fromarray(ids).save(tmp_path / "wide.png")
    assert np.array_equal(read_mask(tmp_path / "wide.png", binary=True), (ids > 0).astype(np.uint8))
    with pytest.raises(DataError, match="16-bit mask with object ids up to 300"):
        read_mask(tmp_path / "wide.png", binary=False)
    small = np.where(ids == 300, 2, ids).astype(np.uint16)
    Image.fromarray(small).save(tmp_path / "small.png")
    assert np.array_equal(read_mask(tmp_path / "small.png", binary=False), small.astype(np.uint8))


def test_peer_overwrite_leaves_no_stale_masks(tmp_path, capsys, monkeypatch):
    from vosgan.methods import segment_sequences
    from vosgan.segmentation.video import input_sequences

    class Blank:
        method, needs_first_mask = "blank", False

        def probabilities(self, frames, first=None):
            return np.zeros(frames.shape[:3], np.float32)

    source = tmp_path / "in" / "clip"
    for t, frame in enumerate(make_clip(0, 6, 32).frames):
        write_image(source / f"{t:05d}.jpg", frame)
    out = tmp_path / "out"
    segment_sequences(Blank(), input_sequences(source), out, progress=False)
    for t in range(2, 6):
        (source / f"{t:05d}.jpg").unlink()
    report, _ = segment_sequences(Blank(), input_sequences(source), out, progress=False, overwrite=True)
    assert report.written == ["clip"] and sorted(p.name for p in (out / "clip").glob("*.png")) == [
        "00000.png",
        "00001.png",
    ]


def test_segment_size_is_range_checked_at_the_parser(tmp_path, checkpoint, capsys):
    code, text = run(segment(checkpoint, tmp_path, tmp_path / "o", "--size", "100000"), capsys)
    assert code == 2 and "--size" in text and "<= 2048" in text


@pytest.mark.parametrize("kind, said", [("gif", "is a GIF image"), ("readme", 'a text file starting "# Model')])
def test_files_that_are_not_checkpoints_are_named_for_what_they_are(tmp_path, kind, said):
    path = tmp_path / "x.pt"
    path.write_bytes(b"GIF89a\x01\x00" if kind == "gif" else b"# Model card\nweights elsewhere\n")
    with pytest.raises(CheckpointError, match=said):
        load_models(path)


def test_another_methods_checkpoint_is_named_with_the_commands_that_take_it(tmp_path, tiny_dataset):
    from vosgan.config import get_preset
    from vosgan.training.runs import run_training

    cis = save_checkpoint(
        tmp_path / "cis.pt", {"method": "cis", "config": {"a": 1}, "generator": {}, "discriminator": {}}
    )
    with pytest.raises(CheckpointError, match=r"holds a CIS model \(method 'cis'\).*segment, compare"):
        load_models(cis)
    run = tmp_path / "run"
    run.mkdir()
    os.link(cis, run / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="holds a CIS model"):
        run_training(get_preset("tiny"), tiny_dataset, run, 1, resume=True, progress=False)


def test_result_files_are_never_replaced_without_asking(tmp_path, checkpoint, capsys):
    from vosgan.data.synthetic import write_benchmark

    root = write_benchmark(tmp_path / "bench", 2, 4, 32, seed=0)
    gt = pred = root / "Annotations"
    args = ["evaluate", "--gt", str(gt), "--pred", str(pred), "--binary"]
    size = checkpoint.stat().st_size
    code, text = run([*args, "--json", str(checkpoint)], capsys)
    assert code == 2 and "exists" in text and "--overwrite" in text and checkpoint.stat().st_size == size
    assert load_models(checkpoint)  # the checkpoint is whole
    keep = tmp_path / "keep.txt"
    keep.write_text("notes")
    for command in (["generation", "--checkpoint", str(checkpoint)], ["actions", "--checkpoint", str(checkpoint)]):
        code, text = run([*command, "--out", str(keep)], capsys)
        assert code == 2 and "--overwrite" in text and keep.read_text() == "notes"
    assert run([*args, "--json", str(keep), "--overwrite"], capsys)[0] == 0
    assert keep.read_text().startswith("{")


def test_a_result_write_that_fails_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    from vosgan.data import io

    path = tmp_path / "results.json"
    io.write_result(path, '{"J": 0.5}')

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left on device; the previous file is untouched"):
        io.write_result(path, '{"J": 0.7, "F": ' + "0" * 1000)
    assert path.read_text() == '{"J": 0.5}' and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_two_runs_in_one_folder_are_refused_and_orphan_logs_are_not_continued(tmp_path, tiny_dataset):
    from vosgan.config import get_preset
    from vosgan.training.runs import run_lock, run_training

    cfg = get_preset("tiny").with_overrides(train={"precision": "fp32"})
    run = tmp_path / "run"
    with run_lock(run):  # a first run holds the folder
        with pytest.raises(RuntimeError, match=f"in use by another training run \\(pid {os.getpid()}\\)"):
            run_training(cfg, tiny_dataset, run, 1, progress=False, threads=1)
    # a run killed before its first checkpoint left steps 1-3 in its log; a new run starts the log afresh
    (run / "metrics.jsonl").write_text("".join(f'{{"step": {s}}}\n' for s in (1, 2, 3)))
    run_training(cfg, tiny_dataset, run, 2, progress=False, threads=1)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]


def test_ctrl_c_in_a_command_ends_without_a_traceback(tmp_path, checkpoint, capsys, monkeypatch):
    import vosgan.segmentation.video as segment_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(segment_module, "segment_path", interrupted)
    code, text = run(segment(checkpoint, tmp_path, tmp_path / "o"), capsys)
    assert code == 130 and "interrupted" in text and "Traceback" not in text


def test_split_files_name_sequences_whole_and_an_empty_one_is_blamed(tmp_path):
    from vosgan.data.readers import read_davis

    for name in ("my clip", "other"):
        write_image(tmp_path / "JPEGImages" / name / "00000.jpg", make_clip(0, 1, 32).frames[0])
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets" / "val.txt").write_text("my clip\nother\n")
    assert [s.name for s in read_davis(tmp_path, split="val")] == ["my clip", "other"]
    (tmp_path / "ImageSets" / "val.txt").write_text("\n")
    with pytest.raises(DataError, match=r"val\.txt lists no sequences"):
        read_davis(tmp_path, split="val")


def test_fractions_that_are_not_numbers_are_named(tmp_path, capsys):
    code, text = run(["unlabeled-curve", "--out", str(tmp_path / "c"), "--fractions", "abc"], capsys)
    assert code == 2 and "--fractions 'abc'" in text and "could not convert" not in text


def test_compare_guards_the_dataset_and_its_kept_truth_and_reports_failures(tmp_path, checkpoint, capsys):
    from vosgan.data.synthetic import write_benchmark

    first = write_benchmark(tmp_path / "first", 10, 4, 32, seed=0)
    second = write_benchmark(tmp_path / "second", 20, 4, 32, seed=1)
    base = ["compare", "--checkpoint", f"tiny={checkpoint}", "--baselines", "", "--no-progress"]
    inside = first / "Annotations" / "cmp"
    code, text = run([*base, "--data", str(first), "--out", str(inside)], capsys)
    assert code == 2 and "inside the dataset" in text and not inside.exists()
    out = tmp_path / "cmp"
    assert run([*base, "--data", str(first), "--out", str(out)], capsys)[0] == 0
    code, text = run([*base, "--data", str(second), "--out", str(out)], capsys)
    assert code == 2 and "holds the comparison of" in text
    # a sequence that cannot be read: named, and the command does not report success
    name = (second / "ImageSets" / "test.txt").read_text().split()[0]
    (second / "JPEGImages" / name / "00001.jpg").write_bytes(b"not a jpeg")
    code, text = run([*base, "--data", str(second), "--out", str(tmp_path / "cmp2")], capsys)
    assert code == 1 and "sequences failed" in text and "could not be segmented" in text


def test_synth_never_mixes_into_another_dataset(tmp_path, capsys):
    from vosgan.data.synthetic import write_benchmark

    davis = tmp_path / "DAVIS"
    (davis / "ImageSets").mkdir(parents=True)
    (davis / "ImageSets" / "val.txt").write_text("bear\n")
    code, text = run(["data", "synth", "--out", str(davis), "--videos", "3", "--frames", "4", "--size", "32"], capsys)
    assert code == 2 and "not empty" in text and (davis / "ImageSets" / "val.txt").read_text() == "bear\n"
    assert not (davis / "meta.json").exists() and not (davis / "JPEGImages").exists()
    bench = write_benchmark(tmp_path / "bench", 3, 4, 32, seed=0, progress=False)
    write_benchmark(bench, 3, 4, 32, seed=0, progress=False)  # the same benchmark again: fine
    with pytest.raises(FileExistsError, match="does not hold this benchmark"):
        write_benchmark(bench, 3, 4, 64, seed=0, progress=False)  # another size into it: refused


def test_a_video_cut_short_is_named_with_both_counts(tmp_path):
    from vosgan.data.io import read_video

    path = tmp_path / "clip.avi"
    write_video(path, make_clip(0, 12, 32).frames)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still announces 12 frames
    with pytest.warns(UserWarning, match=r"clip\.avi: its header announces 12 frames but only \d+ could be decoded"):
        frames = read_video(path)
    assert 0 < len(frames) < 12


def test_a_pickle_given_as_the_feature_network_is_refused_by_name(tmp_path, checkpoint, capsys):
    import pickle

    class Exploit:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    evil = tmp_path / "features.pt"
    evil.write_bytes(pickle.dumps(Exploit()))
    code, text = run(["generation", "--checkpoint", str(checkpoint), "--feature-network", str(evil)], capsys)
    assert code == 2 and "features.pt" in text and "Traceback" not in text and "weights_only=False" not in text
    assert not (tmp_path / "pwned").exists()


def test_absurd_configs_and_other_methods_files_are_named_at_export(tmp_path, tiny_models, capsys):
    cfg, gen, disc = tiny_models
    config = cfg.to_dict()
    config["size"] = 100000
    absurd = save_checkpoint(tmp_path / "absurd.pt", {"config": config, "generator": {}, "discriminator": {}})
    with pytest.raises(CheckpointError, match=r"absurd\.pt holds an invalid VOS-GAN config: size must be"):
        load_models(absurd)
    cis = save_checkpoint(
        tmp_path / "cis.pt", {"method": "cis", "config": {"a": 1}, "generator": {}, "discriminator": {}}
    )
    args = ["export", "--checkpoint", str(cis), "--out", str(tmp_path / "o.pt"), "--working-size", "48"]
    code, text = run(args, capsys)
    assert code == 2 and "holds a CIS model" in text and "unknown config keys" not in text


def test_a_peer_run_stopped_by_sigterm_exits_143_with_the_resume_hint(tmp_path, capsys, monkeypatch):
    import signal

    import vosgan.peers.cis as cis
    from vosgan.data.synthetic import write_benchmark

    data = write_benchmark(tmp_path / "davis", 10, 8, 32, seed=3, progress=False)
    real_update = cis.CISTrainer.update

    def preempted(self, k):
        os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler pre-empting the job
        return real_update(self, k)

    monkeypatch.setattr(cis.CISTrainer, "update", preempted)
    args = ["train-peer", "--method", "cis", "--preset", "tiny", "--data", str(data), "--iterations", "5"]
    code, text = run([*args, "--out", str(tmp_path / "cis"), "--no-progress"], capsys)
    assert code == 143 and "SIGTERM" in text and "--resume" in text


def test_a_full_disk_names_the_sequences_left_partial_and_a_rerun_tells_them_apart(
    tmp_path, checkpoint, capsys, monkeypatch
):
    import vosgan.segmentation.video as segment_module

    source = tmp_path / "in"
    for name, seed in (("a", 0), ("b", 1)):
        write_video(source / f"{name}.avi", make_clip(seed, 6, 32).frames)
    out = tmp_path / "out"
    written = []
    real_write = segment_module.write_indexed_png

    def fills_up(path, ids):
        if Path(path).parent.name == "b" and len(written) >= 3:  # the disk fills up during sequence b
            raise OSError(28, "No space left on device")
        written.extend([path] if Path(path).parent.name == "b" else [])
        real_write(path, ids)

    monkeypatch.setattr(segment_module, "write_indexed_png", fills_up)
    code, text = run(segment(checkpoint, source, out), capsys)
    assert code == 2 and "skipped b" in text and "No space left on device" in text and "could not be segmented" in text
    monkeypatch.undo()
    code, text = run(segment(checkpoint, source, out), capsys)
    assert code == 2 and "partly written by a run that stopped: b" in text
    assert run(segment(checkpoint, source, out, "--overwrite"), capsys)[0] == 0
    assert len(list((out / "b").glob("*.png"))) == 6


def test_an_unwritable_flow_cache_is_named_and_the_flow_still_computed(tmp_path):
    from vosgan.data.flow import FlowCache, farneback

    cache_root = tmp_path / "cache"
    cache_root.write_text("a file where the cache folder should be")
    frames = make_clip(0, 4, 32).frames
    with pytest.warns(UserWarning, match="flow cache .* cannot be written.*VOSGAN_CACHE"):
        flow = FlowCache(cache_root)(frames)
    assert np.allclose(flow, farneback(frames), atol=0.01)


def test_a_checkpoint_cut_by_a_size_limit_says_so_and_keeps_the_previous_one(tmp_path, monkeypatch):
    import torch

    path = save_checkpoint(tmp_path / "checkpoint.pt", {"config": {}, "generator": {}, "discriminator": {}})
    before = path.read_bytes()

    def cut(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 512 vs 448")

    monkeypatch.setattr(torch, "save", cut)
    with pytest.raises(OSError, match="could not be written completely .*the previous file is untouched"):
        save_checkpoint(path, {"config": {}, "generator": {}, "discriminator": {}})
    assert path.read_bytes() == before


def test_a_vosgan_checkpoint_given_to_train_peer_resume_is_named(tmp_path, checkpoint, capsys):
    from vosgan.data.synthetic import write_benchmark

    data = write_benchmark(tmp_path / "davis", 10, 8, 32, seed=3, progress=False)
    run_dir = tmp_path / "peer"
    run_dir.mkdir()
    os.link(checkpoint, run_dir / "checkpoint.pt")
    args = ["train-peer", "--method", "cis", "--preset", "tiny", "--data", str(data), "--iterations", "2"]
    code, text = run([*args, "--out", str(run_dir), "--resume", "--no-progress"], capsys)
    assert code == 2 and "holds a VOS-GAN model" in text and "not a CIS one" in text


def test_table4_and_curve_outputs_never_replace_a_users_file(tmp_path, capsys):
    for command, name in (("table4", "table4.json"), ("unlabeled-curve", "curve.json")):
        folder = tmp_path / command
        folder.mkdir()
        (folder / name).write_text("my notes, not JSON")
        code, text = run([command, "--out", str(folder)], capsys)
        assert code == 2 and "is not an earlier result" in text and (folder / name).read_text() == "my notes, not JSON"


def test_a_half_export_keeps_values_beyond_float16_in_float32(tmp_path, tiny_models):
    from vosgan.models.checkpoint import export_weights, load_checkpoint

    cfg, gen, disc = tiny_models
    weights = gen.state_dict()
    name = next(k for k in weights if k.endswith("running_var"))
    weights[name] = torch.full_like(weights[name], 1e5)  # a BatchNorm variance float16 cannot hold
    source = save_checkpoint(tmp_path / "run.pt", {"config": cfg.to_dict(), "generator": weights,
                                                   "discriminator": disc.state_dict()})  # fmt: skip
    out = export_weights(source, tmp_path / "half.pt", half=True)
    state = load_checkpoint(out)
    assert state["generator"][name].dtype == torch.float32 and state["generator"][name].max() == 1e5
    assert any(v.dtype == torch.float16 for v in state["generator"].values())
    assert load_models(out)  # loads: nothing became infinite


def test_files_written_atomically_get_the_users_permissions(tmp_path):
    from vosgan.data.io import write_indexed_png, write_result

    old = os.umask(0o022)
    try:
        write_result(tmp_path / "r.json", "{}")
        write_indexed_png(tmp_path / "m.png", np.zeros((4, 4), np.uint8))
    finally:
        os.umask(old)
    assert all((tmp_path / n).stat().st_mode & 0o777 == 0o644 for n in ("r.json", "m.png"))


def test_ctrl_c_during_a_parallel_evaluation_prints_no_traceback(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    for kind in ("gt", "pred"):
        for s in range(4):
            for t in range(3):
                write_image(tmp_path / kind / f"s{s}" / f"{t:05d}.png", np.zeros((8, 8, 3), np.uint8))
    # each sequence takes 30 s in a worker (as a long DAVIS evaluation would); Ctrl-C comes after 4 s
    code = f'''
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a background job inherits SIG_IGN)
import vosgan.metrics.evaluate as evaluate
def slow(job):
    time.sleep(30)
evaluate._evaluate_folder_pair = slow
from vosgan.cli.main import main
sys.exit(main(["evaluate", "--gt", "{tmp_path / "gt"}", "--pred", "{tmp_path / "pred"}", "--workers", "2"]))
'''
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(8)  # the interpreter, torch and the pool start
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-2000:]


def test_finetune_names_another_methods_checkpoint(tmp_path, capsys):
    fg = save_checkpoint(
        tmp_path / "fg.pt", {"method": "fastgan", "config": {"a": 1}, "generator": {}, "discriminator": {}}
    )
    code, text = run(
        ["finetune", "--checkpoint", str(fg), "--out", str(tmp_path / "ft.pt"), "--iterations", "1"], capsys
    )
    assert code == 2 and "holds a FaSTGAN model" in text and "unknown config keys" not in text
