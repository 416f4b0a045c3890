"""The embedded benchmark, the clip pipeline, optical flow and the datasets."""

import numpy as np
import pytest
import torch

from vosgan.config import get_preset
from vosgan.data.clips import cut_shots, resize_frames, to_tensor, to_uint8, upsample_maps
from vosgan.data.datasets import ClipDataset, epoch_order, make_loader
from vosgan.data.flow import FlowCache, batch_flow, farneback, flow_to_color, flow_to_target
from vosgan.data.readers import read_davis
from vosgan.data.synthetic import MOTION_KINDS, make_benchmark, make_clip, split_indices, write_benchmark


def test_synthetic_clip_is_deterministic_and_well_formed():
    a, b = make_clip(7, frames=8, size=32), make_clip(7, frames=8, size=32)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.masks, b.masks)
    assert a.frames.shape == (8, 32, 32, 3) and a.frames.dtype == np.uint8
    assert a.masks.shape == (8, 32, 32) and set(np.unique(a.masks)) <= set(range(a.objects + 1))
    assert a.motion in MOTION_KINDS and a.motion != "still"
    assert not np.array_equal(make_clip(8, 8, 32).frames, a.frames)
    # Backgrounds are photographs: textured, not flat.
    assert a.frames[0][a.masks[0] == 0].std() > 5


@pytest.mark.parametrize("kind", ["linear", "bouncing", "circular", "accelerating", "zigzag"])
def test_primary_object_moves(kind):
    clip = make_clip(3, frames=16, size=64, max_objects=1, motion=kind)
    assert (clip.masks == 1).any(axis=(1, 2)).all(), "the object is visible in every frame"
    first = np.argwhere(clip.masks[0] == 1).mean(0)
    last = np.argwhere(clip.masks[-1] == 1).mean(0)
    assert np.linalg.norm(first - last) > 2.0, kind


def test_still_object_and_camera_motion():
    still = make_clip(3, frames=8, size=32, max_objects=1, motion="still")
    assert (
        np.array_equal(still.masks[0] > 0, still.masks[-1] > 0)
        or np.abs(np.argwhere(still.masks[0]).mean(0) - np.argwhere(still.masks[-1]).mean(0)).max() < 1.0
    )
    calm = make_clip(5, frames=8, size=32, difficulty=0.0)
    shaky = make_clip(5, frames=8, size=32, difficulty=1.0)
    bg = lambda c: np.abs(np.diff(c.frames.astype(float), axis=0))[c.masks[1:] == 0].mean()
    assert bg(shaky) > bg(calm)


def test_splits_are_disjoint_and_fixed_by_seed():
    s = split_indices(100, seed=3)
    assert sorted(s["train"] + s["val"] + s["test"]) == list(range(100))
    assert len(s["train"]) == 70 and not set(s["train"]) & set(s["test"])
    assert s == split_indices(100, seed=3) and s != split_indices(100, seed=4)


def test_written_benchmark_reads_back_through_the_davis_reader(tmp_path):
    write_benchmark(tmp_path, videos=6, frames=4, size=32, seed=1, progress=False)
    seqs = read_davis(tmp_path)
    assert len(seqs) == 6
    frames, masks = seqs[0].read_frames(), seqs[0].read_masks()
    clip = make_benchmark(6, 4, 32, seed=1)[0]
    assert frames.shape == (4, 32, 32, 3) and np.array_equal(masks, clip.masks)  # PNG ids are lossless
    assert np.abs(frames.astype(int) - clip.frames).mean() < 8  # JPEG is lossy
    train = read_davis(tmp_path, split="train")
    test = read_davis(tmp_path, split="test")
    assert {s.name for s in train}.isdisjoint({s.name for s in test})


def test_cut_shots_pads_the_last_shot():
    frames = np.arange(10)[:, None]
    shots, real = cut_shots(frames, 4)
    assert len(shots) == 3 and real == 2
    assert shots[-1][:, 0].tolist() == [8, 9, 9, 9]


def test_tensor_round_trip_and_range():
    frames = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    video = to_tensor(frames)
    assert video.shape == (3, 4, 8, 8) and video.min() >= -1 and video.max() <= 1
    assert np.array_equal(to_uint8(video), frames)
    assert resize_frames(frames, 16).shape == (4, 16, 16, 3)
    up = upsample_maps(torch.rand(1, 4, 8, 8), 24, 40)
    assert up.shape == (1, 4, 24, 40)


def test_farneback_finds_a_known_translation():
    rng = np.random.default_rng(0)
    base = (rng.random((48, 48)) * 255).astype(np.uint8)
    base = np.repeat(__import__("cv2").GaussianBlur(base, (7, 7), 2)[..., None], 3, 2)
    frames = np.stack([np.roll(base, shift=2 * t, axis=1) for t in range(4)])
    flow = farneback(frames)
    assert flow.shape == (4, 48, 48, 2)
    inner = flow[:, 12:36, 12:36]
    assert abs(np.median(inner[..., 0]) - 2.0) < 0.3 and abs(np.median(inner[..., 1])) < 0.3
    assert np.array_equal(flow[-1], flow[-2])  # the last frame repeats the previous pair


def test_batch_flow_equals_per_clip_flow():
    """Two different clips in one batch: each keeps its own flow (a mix-up of the batch would show)."""
    video = torch.stack([to_tensor(make_clip(seed, frames=6, size=32).frames) for seed in (2, 3)])
    flow = batch_flow(video)
    assert flow.shape == (2, 2, 6, 32, 32)
    for i in range(2):
        expected = torch.from_numpy(farneback(to_uint8(video[i]))).permute(3, 0, 1, 2)
        torch.testing.assert_close(flow[i], expected)
    assert (flow[0] - flow[1]).abs().mean() > 0.05  # the clips' motions differ


def test_flow_scaling_maps_pixels_into_the_sigmoid_range():  # the inverse: DiscriminatorOutput.flow_pixels
    target = flow_to_target(torch.zeros(1, 2, 1, 4, 64) + 4.0, 0.125)
    assert torch.allclose(target, torch.full_like(target, 0.75))  # 4 px of an 8 px limit
    assert flow_to_target(torch.full((1, 2, 1, 4, 64), 100.0), 0.125).max() == 1.0
    rgb = flow_to_color(np.random.default_rng(0).normal(size=(3, 8, 8, 2)))
    assert rgb.shape == (3, 8, 8, 3) and rgb.dtype == np.uint8


def test_flow_cache_writes_once_and_recovers_damaged_entries(tmp_path):
    clip = make_clip(4, frames=5, size=32)
    cache = FlowCache(tmp_path)
    first = cache(clip.frames)
    path = cache.path(clip.frames)
    assert path.exists() and not list(tmp_path.rglob("*.tmp"))
    mtime = path.stat().st_mtime_ns
    assert np.array_equal(cache(clip.frames), first) and path.stat().st_mtime_ns == mtime
    path.write_bytes(b"damaged")
    np.testing.assert_allclose(cache(clip.frames), first)


def test_clip_dataset_items(tiny_dataset):
    cfg = get_preset("tiny")
    item = tiny_dataset[0]
    t, s = cfg.frames, cfg.size
    assert item["video"].shape == (3, t, s, s) and item["flow"].shape == (2, t, s, s)
    assert item["mask"].shape == (1, t, s, s) and item["has_mask"]
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0} and item["mask"].sum() > 0
    assert 0 <= item["label"] < len(tiny_dataset.classes)


def test_loader_order_is_seeded_sharded_and_resumable(tiny_dataset):
    n = len(tiny_dataset)
    assert epoch_order(n, 0, 0) == epoch_order(n, 0, 0) != epoch_order(n, 0, 1)
    halves = epoch_order(n, 0, 0, rank=0, world_size=2) + epoch_order(n, 0, 0, rank=1, world_size=2)
    assert len(set(halves)) == len(halves) == n - n % 2
    full = [b["label"] for b in make_loader(tiny_dataset, 4, seed=0, epoch=0)]
    resumed = [b["label"] for b in make_loader(tiny_dataset, 4, seed=0, epoch=0, skip_batches=2)]
    assert all(torch.equal(a, b) for a, b in zip(full[2:], resumed, strict=True))


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match="no shots"):
        ClipDataset([])


def test_synthetic_pool_is_rendered_once_and_read_back_identically(tmp_path, monkeypatch):
    import vosgan.data.sources as sources
    from vosgan.config import get_preset

    cfg = get_preset("tiny")
    cache = tmp_path / "cache" / "flow"
    first = sources.load_dataset(cfg, "synthetic", split="unlabeled", videos=6, seed=3, cache_dir=cache, progress=False)
    files = list((tmp_path / "cache" / "synthetic").glob("*.npz"))
    assert len(files) == 1 and "unlabeled-6-16x32-seed3" in files[0].name

    def refuse(*args, **kwargs):
        raise AssertionError("the pool was rendered again")

    monkeypatch.setattr(sources, "make_benchmark", refuse)
    again = sources.load_dataset(cfg, "synthetic", split="unlabeled", videos=6, seed=3, cache_dir=cache, progress=False)
    for i in range(6):
        a, b = first[i], again[i]
        assert all(torch.equal(a[k], b[k]) for k in ("video", "flow", "mask", "label"))
    assert [s.label for s in first.shots] == [s.label for s in again.shots]
    with pytest.raises(AssertionError, match="rendered again"):  # another seed is another pool
        sources.load_dataset(cfg, "synthetic", split="unlabeled", videos=6, seed=4, cache_dir=cache, progress=False)
    files[0].write_bytes(b"cut short")  # a damaged entry is rendered again, not trusted
    monkeypatch.undo()
    third = sources.load_dataset(cfg, "synthetic", split="unlabeled", videos=6, seed=3, cache_dir=cache, progress=False)
    assert torch.equal(third[5]["flow"], first[5]["flow"])
