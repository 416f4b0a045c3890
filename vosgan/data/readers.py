"""Readers for the real datasets in their native on-disk layouts.

Every reader returns ``Sequence`` records that load lazily, so listing a dataset is cheap and a
long run decodes one video at a time. Missing or malformed layouts raise ``DataError`` naming the
path and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from vosgan.data.io import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    DataError,
    frame_order,
    iter_frame_folder,
    iter_video,
    list_images,
    read_frame_folder,
    read_image,
    read_mask,
    read_video,
)


@dataclass
class Sequence:
    """One video: ``read_frames()`` -> RGB uint8 (T, H, W, 3); ``read_masks()`` -> ids (T, H, W) uint8."""

    name: str
    read_frames: Callable[[], np.ndarray]
    read_masks: Callable[[], np.ndarray] | None = None
    label: str | None = None
    iter_frames: Callable[[], Iterator[np.ndarray]] | None = None  # one frame at a time, where the source allows

    @classmethod
    def frame_folder(cls, name: str, folder: Path, read_masks=None, label: str | None = None) -> Sequence:
        return cls(name, partial(read_frame_folder, folder), read_masks, label, partial(iter_frame_folder, folder))

    @classmethod
    def video(cls, name: str, path: Path, label: str | None = None) -> Sequence:
        return cls(name, partial(read_video, path), None, label, partial(iter_video, path))


def _read_mask_folder(paths: list[Path]) -> np.ndarray:
    return np.stack([read_mask(p) for p in paths])


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataError(f"expected {what} at {path}, found no such folder")
    return path


# ---------------------------------------------------------------------------------------- DAVIS
def _davis_subdir(root: Path, name: str, resolution: str) -> Path:
    base = _require_dir(root / name, f"the DAVIS folder {name}/")
    return base / resolution if (base / resolution).is_dir() else base


def davis_split(root: str | os.PathLike, split: str, year: str | None = None) -> list[str]:
    """Sequence names of ``ImageSets/<year>/<split>.txt`` (DAVIS) or ``ImageSets/<split>.txt`` (flat)."""
    root = Path(root)
    candidates = [root / "ImageSets" / year / f"{split}.txt"] if year else []
    candidates += [root / "ImageSets" / f"{split}.txt"]
    candidates += sorted((root / "ImageSets").glob(f"*/{split}.txt")) if not year else []
    for path in candidates:
        if path.is_file():
            lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
            if not lines:
                raise DataError(f"{path} lists no sequences: add one name per line, or choose another split")
            # a line is a sequence name (spaces included); path-style lines name the sequence's folder
            return [line.split()[0].strip("/").split("/")[-1] if "/" in line else line for line in lines]
    raise DataError(
        f"no split file for {split!r} under {root / 'ImageSets'} (looked for {[str(c) for c in candidates]})"
    )


def read_davis(
    root: str | os.PathLike, split: str | None = None, year: str | None = None, resolution: str = "480p"
) -> list[Sequence]:
    """DAVIS 2016/2017: ``JPEGImages/480p/<seq>/*.jpg``, ``Annotations/480p/<seq>/*.png``, ``ImageSets``.

    The resolution folder is optional, so the kit's own synthetic benchmark (written flat) reads
    back through this reader too. Annotations are optional (e.g. test-challenge sets).
    """
    root = Path(root)
    images = _davis_subdir(root, "JPEGImages", resolution)
    names = davis_split(root, split, year) if split else sorted(p.name for p in images.iterdir() if p.is_dir())
    annotations = root / "Annotations"
    if annotations.is_dir():
        annotations = _davis_subdir(root, "Annotations", resolution)
    sequences = []
    for name in names:
        frames_dir = _require_dir(images / name, f"the frames of sequence {name!r}")
        masks = None
        if (annotations / name).is_dir():
            paths = sorted((annotations / name).glob("*.png"), key=frame_order)
            masks = partial(_read_mask_folder, paths)
        sequences.append(Sequence.frame_folder(name, frames_dir, masks))
    if not sequences:
        raise DataError(f"no sequences under {images}")
    return sequences


# ------------------------------------------------------------------------------------- SegTrack-v2
def _read_segtrack_masks(folder: Path) -> np.ndarray:
    """Single-object ``GroundTruth/<seq>/*.png`` or per-object ``GroundTruth/<seq>/<k>/*.png`` -> ids."""
    objects = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name))
    if not objects:
        return (_read_mask_folder(list_images(folder)) > 0).astype(np.uint8)
    ids = None
    for k, obj in enumerate(objects, start=1):
        binary = _read_mask_folder(list_images(obj)) > 0
        ids = np.zeros(binary.shape, np.uint8) if ids is None else ids
        if binary.shape != ids.shape:
            raise DataError(f"object folders of {folder} disagree in frame count or size")
        ids[binary] = k
    return ids


def read_segtrack(root: str | os.PathLike) -> list[Sequence]:
    """SegTrack-v2: ``JPEGImages/<seq>/`` frames and ``GroundTruth/<seq>/[<k>/]`` binary masks."""
    root = Path(root)
    images = _require_dir(root / "JPEGImages", "SegTrack-v2's JPEGImages/")
    truth = _require_dir(root / "GroundTruth", "SegTrack-v2's GroundTruth/")
    sequences = []
    for folder in sorted(p for p in images.iterdir() if p.is_dir()):
        gt = _require_dir(truth / folder.name, f"ground truth of sequence {folder.name!r}")
        sequences.append(Sequence.frame_folder(folder.name, folder, partial(_read_segtrack_masks, gt)))
    if not sequences:
        raise DataError(f"no sequences under {images}")
    return sequences


# ------------------------------------------------------------------------------------ golf course
def read_golf_clip(path: str | os.PathLike, frames: int, frame_size: int = 128) -> np.ndarray:
    """One VGAN clip: a JPEG of frames stacked vertically -> (frames, 128, 128, 3).

    Takes the first ``frames`` frames and repeats the last one when the clip is shorter, as VGAN does.
    """
    strip = read_image(path)
    h, w = strip.shape[:2]
    if w != frame_size or h % frame_size:
        raise DataError(f"golf clip {path} is {w}x{h}; expected width {frame_size} and height a multiple of it")
    clip = strip.reshape(h // frame_size, frame_size, w, 3)[:frames]
    if len(clip) < frames:
        clip = np.concatenate([clip, np.repeat(clip[-1:], frames - len(clip), 0)])
    return clip


def read_golf(root: str | os.PathLike, list_file: str | os.PathLike, frames: int = 32) -> list[Sequence]:
    """The "golf course" clips of VGAN: a text file listing JPEG paths relative to ``root``."""
    root, list_file = Path(root), Path(list_file)
    if not list_file.is_file():
        raise DataError(f"golf clip list {list_file} does not exist")
    sequences = []
    for line in list_file.read_text().splitlines():
        if line.strip():
            path = root / line.strip()
            sequences.append(Sequence(path.stem, partial(read_golf_clip, path, frames)))
    if not sequences:
        raise DataError(f"golf clip list {list_file} is empty")
    return sequences


# --------------------------------------------------------------------------------------- Weizmann
def weizmann_action(path: Path) -> str:
    """Action of a Weizmann file name: ``daria_jump.avi`` -> 'jump', ``lena_run1.avi`` -> 'run'."""
    stem = path.stem.split("_", 1)
    if len(stem) != 2:
        raise DataError(f"Weizmann file {path} is not named <person>_<action>.avi")
    return re.sub(r"\d+$", "", stem[1])


def read_weizmann(root: str | os.PathLike) -> list[Sequence]:
    """Weizmann actions: ``<person>_<action>.avi`` files (flat or in per-action folders)."""
    root = Path(root)
    _require_dir(root, "the Weizmann dataset folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".avi")
    if not files:
        raise DataError(f"no .avi files under {root}")
    return [Sequence.video(p.stem, p, label=weizmann_action(p)) for p in files]


def clip_starts(length: int, clip: int = 32, shift: int = 5) -> list[int]:
    """Start frames of ``clip``-frame windows shifted by ``shift`` (the paper's Weizmann clips)."""
    return list(range(0, length - clip + 1, shift))


# ---------------------------------------------------------------------------------------- UCF101
def read_ucf101(
    root: str | os.PathLike, split_dir: str | os.PathLike, split: int = 1, subset: str = "train"
) -> list[Sequence]:
    """UCF101: ``<Class>/v_<Class>_gXX_cYY.avi`` with ``classInd.txt`` and ``{train,test}listNN.txt``."""
    root, split_dir = Path(root), Path(split_dir)
    list_path = split_dir / f"{subset}list{split:02d}.txt"
    if not list_path.is_file():
        raise DataError(f"UCF101 split list {list_path} does not exist")
    if not (split_dir / "classInd.txt").is_file():
        raise DataError(f"UCF101 class index {split_dir / 'classInd.txt'} does not exist")
    sequences = []
    for line in list_path.read_text().splitlines():
        if not line.strip():
            continue
        relative = line.split()[0]
        path = root / relative
        sequences.append(Sequence.video(path.stem, path, label=relative.split("/")[0]))
    return sequences


def ucf101_classes(split_dir: str | os.PathLike) -> list[str]:
    """Class names in the official order of ``classInd.txt`` (index 1 first)."""
    lines = (Path(split_dir) / "classInd.txt").read_text().split("\n")
    return [line.split()[1] for line in lines if line.strip()]


# ---------------------------------------------------------------------------------- any folder
def read_folder(root: str | os.PathLike) -> list[Sequence]:
    """Unlabelled videos: a video file, a folder of frames, or a folder of video files and frame folders."""
    root = Path(root)
    if root.is_file():
        if root.suffix.lower() not in VIDEO_SUFFIXES:
            raise DataError(f"{root} is not a video file ({', '.join(VIDEO_SUFFIXES)})")
        return [Sequence.video(root.stem, root)]
    _require_dir(root, "a video file or a folder of videos / frames")
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir()):
        return [Sequence.frame_folder(root.name, root)]
    sequences = []
    for p in sorted(root.iterdir()):
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            sequences.append(Sequence.video(p.stem, p))
        elif p.is_dir() and list_images(p):
            sequences.append(Sequence.frame_folder(p.name, p))
    if not sequences:
        raise DataError(f"no video files or frame folders under {root}")
    return sequences
