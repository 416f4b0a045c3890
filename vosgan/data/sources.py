"""One entry point from a data source name to a ``ClipDataset`` at a config's geometry."""

from __future__ import annotations

import os
from pathlib import Path

from vosgan.config import VOSGANConfig
from vosgan.data.datasets import ClipDataset
from vosgan.data.flow import FlowCache
from vosgan.data.io import DataError
from vosgan.data.readers import read_davis, read_folder, read_golf, read_segtrack, read_ucf101, read_weizmann
from vosgan.data.synthetic import make_benchmark

FORMATS = ("davis", "segtrack", "golf", "weizmann", "ucf101", "folder")
DEFAULT_CACHE = Path(os.environ.get("VOSGAN_CACHE", Path.home() / ".cache" / "vosgan")) / "flow"


def read_sequences(root: str | os.PathLike, fmt: str, split: str | None = None, frames: int = 32, **kwargs):
    """The ``Sequence`` list of a dataset on disk in one of ``FORMATS``."""
    if fmt == "davis":
        return read_davis(root, split=split, **kwargs)
    if fmt == "segtrack":
        return read_segtrack(root)
    if fmt == "golf":
        return read_golf(root, kwargs.get("list_file", Path(root) / "golf.txt"), frames)
    if fmt == "weizmann":
        return read_weizmann(root)
    if fmt == "ucf101":
        return read_ucf101(root, kwargs.get("split_dir", Path(root) / "ucfTrainTestlist"), subset=split or "train")
    if fmt == "folder":
        return read_folder(root)
    raise DataError(f"unknown data format {fmt!r}; choose one of {FORMATS}")


def load_dataset(
    cfg: VOSGANConfig,
    source: str = "synthetic",
    fmt: str = "davis",
    split: str | None = "train",
    videos: int = 1000,
    seed: int = 0,
    difficulty: float = 0.0,
    cache_dir: str | os.PathLike | None = DEFAULT_CACHE,
    progress: bool = True,
) -> ClipDataset:
    """``source='synthetic'`` renders the embedded benchmark (``videos`` clips, this ``split``) in
    memory; any other value is a path read in format ``fmt``, with flow cached under ``cache_dir``."""
    if source == "synthetic":
        clips = make_benchmark(videos, cfg.frames, cfg.size, seed=seed, difficulty=difficulty, split=split)
        return ClipDataset.from_synthetic(clips, cfg.size, progress=progress)
    shift = 5 if fmt == "weizmann" else None  # the paper's 32-frame Weizmann clips shifted by 5 frames
    sequences = read_sequences(source, fmt, split if fmt in ("davis", "ucf101") else None, cfg.frames)
    cache = FlowCache(cache_dir) if cache_dir else None
    return ClipDataset.from_sequences(sequences, cfg.size, cfg.frames, shift=shift, flow_cache=cache, progress=progress)
