"""Each reader on a fixture written in that dataset's exact layout."""

import numpy as np
import pytest
from formats import write_davis, write_golf, write_segtrack, write_ucf101, write_weizmann

from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.io import DataError, read_video, write_video
from vosgan.data.readers import (
    clip_starts,
    read_davis,
    read_folder,
    read_golf,
    read_segtrack,
    read_ucf101,
    read_weizmann,
    ucf101_classes,
)
from vosgan.data.sources import load_dataset
from vosgan.data.synthetic import make_clip


def test_davis(tmp_path):
    write_davis(tmp_path)
    seqs = read_davis(tmp_path)
    assert [s.name for s in seqs] == ["bear", "car-shadow", "dogs-jump"]
    assert [s.name for s in read_davis(tmp_path, split="val", year="2017")] == ["dogs-jump"]
    frames, masks = seqs[0].read_frames(), seqs[0].read_masks()
    assert frames.shape == (6, 48, 48, 3) and masks.shape == (6, 48, 48)
    assert np.array_equal(masks, make_clip(0, 6, 48).masks)
    with pytest.raises(DataError, match="test"):
        read_davis(tmp_path, split="test")


def test_davis_missing_root_names_the_path(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "JPEGImages")):
        read_davis(tmp_path)


def test_segtrack_single_and_multi_object(tmp_path):
    write_segtrack(tmp_path)
    seqs = {s.name: s for s in read_segtrack(tmp_path)}
    assert set(seqs) == {"bmx", "frog"}
    multi = seqs["bmx"].read_masks()
    assert set(np.unique(multi)) <= {0, 1, 2} and (multi == 2).any()
    assert np.array_equal(multi, make_clip(2, 5, 48).masks)
    assert set(np.unique(seqs["frog"].read_masks())) == {0, 1}


def test_golf_takes_first_frames_and_repeats_the_last(tmp_path):
    write_golf(tmp_path)
    long, short = read_golf(tmp_path, tmp_path / "golf.txt", frames=16)
    assert long.read_frames().shape == (16, 128, 128, 3)
    clip = short.read_frames()
    assert clip.shape == (16, 128, 128, 3) and np.array_equal(clip[11], clip[15])
    (tmp_path / "bad.jpg").write_bytes(b"")
    (tmp_path / "bad.txt").write_text("bad.jpg\n")
    with pytest.raises(DataError, match="bad.jpg"):
        read_golf(tmp_path, tmp_path / "bad.txt")[0].read_frames()


def test_weizmann_clips_and_corrupt_files(tmp_path):
    write_weizmann(tmp_path)
    seqs = read_weizmann(tmp_path)
    assert sorted(s.label for s in seqs) == ["bend", "jump", "run", "run"]
    assert clip_starts(45, 32, 5) == [0, 5, 10]
    assert clip_starts(683 + 31, 32, 5)[-1] == 680
    cfg = get_preset("tiny")  # 16-frame clips shifted by 5 frames
    with pytest.warns(UserWarning, match="1 of 4 sequences"):
        ds = load_dataset(cfg, str(tmp_path), fmt="weizmann", progress=False)
    assert ds.skipped == 1
    assert len(ds) == 3 * len(clip_starts(45, 16, 5))
    assert ds.classes == ["bend", "run"]


def test_ucf101_official_split_lists(tmp_path):
    write_ucf101(tmp_path)
    train = read_ucf101(tmp_path, tmp_path / "ucfTrainTestlist", 1, "train")
    test = read_ucf101(tmp_path, tmp_path / "ucfTrainTestlist", 1, "test")
    assert [s.label for s in train] == ["ApplyEyeMakeup", "Basketball"]
    assert {s.name for s in train}.isdisjoint({s.name for s in test})
    assert ucf101_classes(tmp_path / "ucfTrainTestlist") == ["ApplyEyeMakeup", "Basketball"]
    assert train[0].read_frames().shape == (10, 40, 40, 3)


def test_video_round_trip_and_folder_reader(tmp_path):
    frames = make_clip(0, frames=8, size=32).frames
    write_video(tmp_path / "videos" / "a.mp4", frames)
    (tmp_path / "videos" / "b").mkdir()
    from vosgan.data.io import write_image

    for t in range(5):
        write_image(tmp_path / "videos" / "b" / f"{t:03d}.png", frames[t])
    decoded = read_video(tmp_path / "videos" / "a.mp4")
    assert decoded.shape == frames.shape and np.abs(decoded.astype(int) - frames).mean() < 20
    seqs = read_folder(tmp_path / "videos")
    assert [s.name for s in seqs] == ["a", "b"]
    assert seqs[1].read_frames().shape == (5, 32, 32, 3)
    assert [s.name for s in read_folder(tmp_path / "videos" / "a.mp4")] == ["a"]
    with pytest.raises(DataError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")


def test_dataset_from_real_layout_keeps_original_size(tmp_path):
    write_davis(tmp_path)
    ds = ClipDataset.from_sequences(read_davis(tmp_path), size=32, frames=4, progress=False)
    assert len(ds) == 3 * 2  # 6 frames -> two 4-frame shots, the second padded
    assert ds.shots[0].original_size == (48, 48) and ds[0]["video"].shape == (3, 4, 32, 32)
