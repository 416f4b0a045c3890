"""One entry point from a data source name to a ``ClipDataset`` at a config's geometry."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from vosgan.config import VOSGANConfig
from vosgan.data import synthetic
from vosgan.data.datasets import ClipDataset
from vosgan.data.flow import FlowCache, farneback
from vosgan.data.io import DataError, atomic_write
from vosgan.data.readers import read_davis, read_folder, read_golf, read_segtrack, read_ucf101, read_weizmann
from vosgan.data.synthetic import SyntheticClip, make_benchmark

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
        pool = synthetic_pool(videos, cfg.frames, cfg.size, seed, difficulty, split, cache_dir, progress)
        return ClipDataset.from_synthetic(pool.clips, cfg.size, progress=progress, flows=pool.flows)
    shift = 5 if fmt == "weizmann" else None  # the paper's 32-frame Weizmann clips shifted by 5 frames
    sequences = read_sequences(source, fmt, split if fmt in ("davis", "ucf101") else None, cfg.frames)
    cache = FlowCache(cache_dir) if cache_dir else None
    return ClipDataset.from_sequences(sequences, cfg.size, cfg.frames, shift=shift, flow_cache=cache, progress=progress)


class SyntheticPool:
    """Rendered synthetic clips and their Farneback flow (T, H, W, 2) float32, one per clip."""

    def __init__(self, clips: list[SyntheticClip], flows: list[np.ndarray]):
        self.clips, self.flows = clips, flows


def synthetic_pool(
    count: int,
    frames: int,
    size: int,
    seed: int = 0,
    difficulty: float = 0.0,
    split: str | None = "train",
    cache_dir: str | os.PathLike | None = DEFAULT_CACHE,
    progress: bool = True,
) -> SyntheticPool:
    """``make_benchmark``'s clips with their flow, rendered once and kept in ``cache_dir``'s sibling
    folder ``synthetic/`` (one file keyed by the arguments and the renderer's source), so a second run
    or a resumed one starts in seconds; without ``cache_dir``, rendered in memory."""
    path = None
    if cache_dir is not None:
        code = hashlib.sha1(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]
        key = f"{split}-{count}-{frames}x{size}-seed{seed}-difficulty{difficulty:g}-{code}"
        path = Path(cache_dir).parent / "synthetic" / f"{key}.npz"
        if path.is_file():
            try:
                with np.load(path) as f:
                    clips = [
                        SyntheticClip(v, m, str(kind), int(n), str(bg))
                        for v, m, kind, n, bg in zip(
                            f["frames"], f["masks"], f["motion"], f["objects"], f["background"]
                        )
                    ]
                    return SyntheticPool(clips, list(f["flows"]))
            except (OSError, ValueError, KeyError, EOFError):
                path.unlink(missing_ok=True)  # a damaged entry is rendered again, not trusted
    clips = make_benchmark(count, frames, size, seed=seed, difficulty=difficulty, split=split, progress=progress)
    from tqdm.auto import tqdm

    flows = [farneback(c.frames) for c in tqdm(clips, desc="optical flow", disable=not progress, leave=False)]
    if path is not None:
        _save_pool(path, clips, flows)
    return SyntheticPool(clips, flows)


def _save_pool(path: Path, clips: list[SyntheticClip], flows: list[np.ndarray]) -> None:
    """Write a pool atomically; a cache that cannot be written (full disk, read-only) is skipped with a
    warning naming it and ``VOSGAN_CACHE``, never an error: the pool is in memory anyway."""
    import warnings

    arrays = {
        "frames": np.stack([c.frames for c in clips]),
        "masks": np.stack([c.masks for c in clips]),
        "motion": np.array([c.motion for c in clips]),
        "objects": np.array([c.objects for c in clips]),
        "background": np.array([c.background for c in clips]),
        "flows": np.stack(flows).astype(np.float32),
    }
    try:
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as err:
        warnings.warn(f"could not cache the synthetic clips in {path.parent} ({err}); set VOSGAN_CACHE", stacklevel=2)
