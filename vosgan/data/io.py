"""Reading and writing frames, videos and indexed-PNG annotations (the DAVIS palette format)."""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


class DataError(ValueError):
    """Missing or malformed data; the message names the path and what was expected."""


@lru_cache(maxsize=1)
def davis_palette() -> tuple[int, ...]:
    """The DAVIS colour palette (the PASCAL VOC bit-interleaved map), 256 RGB triples flattened."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return tuple(palette)


def write_indexed_png(path: str | os.PathLike, ids: np.ndarray) -> None:
    """Save an object-id map (H, W) uint8 as a palette PNG, the DAVIS annotation format."""
    image = Image.fromarray(np.asarray(ids, np.uint8), mode="P")
    image.putpalette(davis_palette())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """An annotation as ids (H, W) uint8: palette PNGs give their indices, others are binarised (> 127)."""
    try:
        with Image.open(path) as image:
            if image.mode == "P":
                return np.array(image, np.uint8)
            gray = np.array(image.convert("L"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read annotation {path}: {err}") from None
    return (gray > 127).astype(np.uint8)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read image {path}: missing, or not an image OpenCV can decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Save RGB uint8 (H, W, 3); the format follows the suffix."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise DataError(f"cannot write image {path}")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files of a folder in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"expected a folder of frames at {folder}, found none")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_frame_folder(folder: str | os.PathLike) -> np.ndarray:
    """A folder of frame images as RGB uint8 (T, H, W, 3)."""
    paths = list_images(folder)
    if not paths:
        raise DataError(f"no frames ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    frames = [read_image(p) for p in paths]
    if len({f.shape for f in frames}) != 1:
        raise DataError(f"frames of {folder} differ in size: {sorted({f.shape for f in frames})}")
    return np.stack(frames)


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> np.ndarray:
    """A video file as RGB uint8 (T, H, W, 3), decoded with OpenCV."""
    if not Path(path).is_file():
        raise DataError(f"video file {path} does not exist")
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while capture.isOpened() and (max_frames is None or len(frames) < max_frames):
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise DataError(f"cannot decode any frame of {path}: corrupt or in a codec OpenCV lacks")
    return np.stack(frames)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 10.0) -> None:
    """Write RGB uint8 (T, H, W, 3) as a video (MJPG for .avi, mp4v otherwise), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    h, w = frames.shape[1:3]
    tmp = Path(tempfile.mkdtemp(dir=path.parent)) / f"video{path.suffix}"
    writer = cv2.VideoWriter(str(tmp), fourcc, fps, (w, h))
    if not writer.isOpened():
        raise DataError(f"OpenCV cannot open a video writer for {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    os.replace(tmp, path)
    tmp.parent.rmdir()
