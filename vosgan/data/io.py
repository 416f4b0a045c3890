"""Reading and writing frames, videos and indexed-PNG annotations (the DAVIS palette format)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    """Save an object-id map (H, W) uint8 as a palette PNG, the DAVIS annotation format (``atomic_write``:
    a symbolic link at ``path`` is replaced, never followed)."""
    image = Image.fromarray(np.asarray(ids, np.uint8), mode="P")
    image.putpalette(davis_palette())
    atomic_write(path, lambda f: image.save(f, format="PNG"))


def plain_name(name: str) -> bool:
    """True for a name that is one plain path component: not empty, '.', '..', and without a separator."""
    return bool(name) and name not in (".", "..") and "/" not in name and os.sep not in name and "\0" not in name


def check_no_links(root: str | os.PathLike, path: str | os.PathLike) -> None:
    """Refuse to write or delete at ``path`` when it, or a folder between ``root`` and it, is a symbolic
    link (writing there would land outside ``root``)."""
    root, path = Path(root), Path(path)
    current = path
    while current != root and root in current.parents:
        if current.is_symlink():
            raise DataError(
                f"{current} is a symbolic link (to {os.readlink(current)}); vosgan writes only inside {root}: "
                "remove the link or choose another output folder"
            )
        current = current.parent


def _wide_ids(values: np.ndarray, path, binary: bool) -> np.ndarray:
    """Ids (H, W) uint8 of a 16- or 32-bit annotation, read by value: as they are up to 255, any
    nonzero id as the one foreground with ``binary``; ids above 255 otherwise are refused by name."""
    if values.min() < 0:
        raise DataError(f"annotation {path} holds negative values: not object ids")
    if values.max() <= 255:
        return values.astype(np.uint8)
    if binary:
        return (values > 0).astype(np.uint8)
    raise DataError(
        f"annotation {path} is a 16-bit mask with object ids up to {values.max()}; the kit scores ids 1-255: "
        "renumber its objects, or pass --binary to score all of them as one foreground"
    )


MAX_GREY_ID = 20  # a greyscale mask whose values stay at or below this holds object ids, not intensities


def read_mask(path: str | os.PathLike, binary: bool = True) -> np.ndarray:
    """An annotation as ids (H, W) uint8.

    Palette PNGs give their indices (the DAVIS format); RGB masks are read by their DAVIS palette
    colours; greyscale masks with small values (<= 20) are ids. A greyscale 0/255-style mask is one
    foreground (> 127) when ``binary``, and refused otherwise (it names no objects).
    """
    try:
        with Image.open(path) as image:
            if image.mode == "P":
                return np.array(image, np.uint8)
            if image.mode.startswith("I"):  # 16- or 32-bit: the values are object ids
                return _wide_ids(np.array(image), path, binary)
            if image.mode in ("RGB", "RGBA"):
                rgb = np.array(image.convert("RGB"))
                if not (rgb[..., 0] == rgb[..., 1]).all() or not (rgb[..., 1] == rgb[..., 2]).all():
                    return _palette_ids(rgb, path)
            gray = np.array(image.convert("L"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read annotation {path}: {err}") from None
    if gray.max() <= MAX_GREY_ID:
        return gray
    if binary:
        return (gray > 127).astype(np.uint8)
    raise DataError(
        f"annotation {path} is a greyscale image with values up to {gray.max()}, not object ids: pass --binary "
        "to score it as one foreground (> 127), or save it as an indexed PNG with the DAVIS palette"
    )


@lru_cache(maxsize=1)
def _palette_lookup() -> dict[int, int]:
    p = davis_palette()
    return {(p[3 * i] << 16) | (p[3 * i + 1] << 8) | p[3 * i + 2]: i for i in range(255, -1, -1)}


def _palette_ids(rgb: np.ndarray, path) -> np.ndarray:
    """RGB (H, W, 3) in DAVIS palette colours -> ids (H, W); any other colour is an error naming it."""
    packed = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    colours, inverse = np.unique(packed, return_inverse=True)
    lookup = _palette_lookup()
    unknown = [int(c) for c in colours if int(c) not in lookup]
    if unknown:
        c = unknown[0]
        raise DataError(
            f"annotation {path} is an RGB image with colours outside the DAVIS palette (e.g. "
            f"{(c >> 16, (c >> 8) & 255, c & 255)}): save it as an indexed PNG, or in the palette's colours"
        )
    ids = np.array([lookup[int(c)] for c in colours], np.uint8)
    return ids[inverse].reshape(packed.shape)


def _opencv_path(path: str | os.PathLike) -> str:
    """``path`` as a string OpenCV can open: it crashes on names that are not valid UTF-8."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(
            f"{os.fsencode(text)!r}: the name is not valid UTF-8, which OpenCV cannot open; rename it"
        ) from None
    return text


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3); any file name (read as bytes, decoded by OpenCV)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as err:
        raise DataError(f"cannot read image {os.fsdecode(path)!r}: {err.strerror}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DataError(f"cannot read image {os.fsdecode(path)!r}: not an image OpenCV can decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Save RGB uint8 (H, W, 3); the format follows the suffix."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(Path(path).suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError(f"cannot encode image {path}")
    data.tofile(path)


def ensure_writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` and prove a file can be written there, or raise an ``OSError`` naming ``what``
    (before any long work, so a bad output fails in a second, not at the end)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".vosgan-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OSError(f"cannot write to {what} {folder}: {err.strerror or err}") from None


def frame_order(path: Path) -> tuple:
    """Sort key of a frame file: the numbers in its name by value (``2.jpg`` before ``10.jpg``)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path.stem))


def check_out_file(out: str | os.PathLike, inputs=(), overwrite: bool = False, flag: str = "--out") -> Path:
    """Refuse, before any work, an output file that is one of the ``inputs``, a folder, or an existing
    file (unless ``overwrite``), and a folder that cannot be written; ``flag`` names the option."""
    target = Path(out)
    if target.is_dir():
        raise IsADirectoryError(f"{flag} {out} is a folder: name a file in it")
    if any(Path(i).resolve() == target.resolve() for i in inputs):
        raise FileExistsError(f"{flag} {out} is one of the inputs: choose another file (an input is never replaced)")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise FileExistsError(f"{flag} {out} exists: pass --overwrite to replace it, or choose another file")
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"cannot write to {parent}: permission denied; choose another {flag}")
    return target


def check_own_result(path: str | os.PathLike) -> Path:
    """Refuse, before any work, to replace ``path`` unless it is absent or a JSON document (an earlier
    run's result in the command's own folder); a file of any other kind is the user's."""
    import json

    path = Path(path)
    if path.exists():
        try:
            json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError, OSError):
            raise FileExistsError(
                f"{path} exists and is not an earlier result of this command: move it, or choose another --out"
            ) from None
    return path


def shareable(path: str | os.PathLike) -> None:
    """Give a file made by ``tempfile`` (mode 0600) the permissions of any file the user creates."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write(path: str | os.PathLike, fill, mode: str = "wb") -> Path:
    """The kit's one way to write a file: ``fill(handle)`` writes into a temporary file in the same folder,
    flushed to disk, given the user's permissions and renamed over ``path`` (a link there is replaced, not
    followed). On a full disk, a size limit or a kill, the previous file stays whole and the error names
    the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(
            mode, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as tmp:
            fill(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        shareable(tmp.name)
        os.replace(tmp.name, path)
    except BaseException as err:
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)
        if isinstance(err, OSError):
            kept = "the previous file is untouched" if path.exists() else "nothing was written"
            raise OSError(f"cannot write {path}: {err.strerror or err}; {kept}") from None
        raise
    return path


def write_result(path: str | os.PathLike, text: str) -> Path:
    """A result file (JSON, Markdown) written by ``atomic_write``."""
    return atomic_write(path, lambda f: f.write(text), "w")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files of a folder (regular files only: a FIFO or a device is never opened), ordered by the
    numbers in their names; two files for one frame (``00000.jpg`` and ``00000.png``) are refused."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"expected a folder of frames at {folder}, found none")
    paths = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    twice = sorted(stem for stem, n in Counter(p.stem for p in paths).items() if n > 1)
    if twice:
        shown = ", ".join(sorted(p.name for p in paths if p.stem == twice[0]))
        raise DataError(
            f"{folder} holds {len(twice)} frame(s) in two files each ({shown}): the frame order is ambiguous; "
            "keep one file per frame"
        )
    return sorted(paths, key=frame_order)


def iter_frame_folder(folder: str | os.PathLike) -> Iterator[np.ndarray]:
    """The frames of a folder one at a time, RGB uint8 (H, W, 3) (memory: one frame)."""
    paths = list_images(folder)
    if not paths:
        raise DataError(f"no frames ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    for p in paths:
        yield read_image(p)


def read_frame_folder(folder: str | os.PathLike) -> np.ndarray:
    """A folder of frame images as RGB uint8 (T, H, W, 3)."""
    frames = list(iter_frame_folder(folder))
    if len({f.shape for f in frames}) != 1:
        raise DataError(f"frames of {folder} differ in size: {sorted({f.shape for f in frames})}")
    return np.stack(frames)


def iter_video(path: str | os.PathLike, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """A video file's frames one at a time, RGB uint8 (H, W, 3), decoded with OpenCV."""
    if not Path(path).is_file():
        raise DataError(f"video file {path} does not exist")
    capture = cv2.VideoCapture(_opencv_path(path))
    expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    count = 0
    try:
        while capture.isOpened() and (max_frames is None or count < max_frames):
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if not count:
        raise DataError(f"cannot decode any frame of {path}: corrupt or in a codec OpenCV lacks")
    if count < expected and (max_frames is None or count < max_frames):
        import warnings

        warnings.warn(
            f"{path}: its header announces {expected} frames but only {count} could be decoded (the file is cut "
            "short or damaged); the frames after them are missing from its results",
            stacklevel=2,
        )


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> np.ndarray:
    """A video file as RGB uint8 (T, H, W, 3), decoded with OpenCV."""
    return np.stack(list(iter_video(path, max_frames)))


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 10.0) -> None:
    """Write RGB uint8 (T, H, W, 3) as a video (MJPG for .avi, mp4v otherwise), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    h, w = frames.shape[1:3]
    tmp = Path(tempfile.mkdtemp(dir=path.parent)) / f"video{path.suffix}"
    writer = cv2.VideoWriter(_opencv_path(tmp), fourcc, fps, (w, h))
    if not writer.isOpened():
        raise DataError(f"OpenCV cannot open a video writer for {path}")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    os.replace(tmp, path)
    tmp.parent.rmdir()


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (a half-written last line, left by a crash, is ignored)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
