"""The embedded moving-object benchmark: procedural clips with exact masks, deterministic by seed.

Backgrounds are crops of the real photographs that ship inside scikit-image (read with OpenCV
from the installed package's data folder, so nothing is downloaded and skimage is not imported).
One to three textured objects (ellipses, polygons, the scikit-image horse silhouette) move on
trajectories of distinct kinds with scale change and mutual occlusion. ``difficulty`` in [0, 1]
adds a slow camera pan/zoom and sensor noise.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np

MOTION_KINDS = ("linear", "bouncing", "circular", "accelerating", "zigzag", "still")
SHAPES = ("ellipse", "polygon", "horse")
PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "color.png",
    "ihc.png",
    "camera.png",
    "coins.png",
    "moon.png",
)
SPLITS = {"train": 0.7, "val": 0.15, "test": 0.15}
# GAN training on synthetic data ("unlabeled" split) uses clip indices from here on, so it never sees
# a clip of an evaluation benchmark (which use indices 0..count-1), not even unlabelled.
UNLABELED_OFFSET = 1_000_000


@dataclass
class SyntheticClip:
    """One clip: RGB frames (T, H, W, 3) uint8, object ids (T, H, W) uint8 (0 = background)."""

    frames: np.ndarray
    masks: np.ndarray
    motion: str  # motion kind of the first object: a label for action-recognition experiments
    objects: int
    background: str = ""  # the photograph behind the objects (PHOTOS)


def skimage_data_dir() -> Path:
    """The ``data`` folder of the installed scikit-image, located without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-image is not installed: `pip install scikit-image` (a vosgan dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def load_photo(name: str) -> np.ndarray:
    """A scikit-image photograph as RGB uint8 (H, W, 3); grey images are tinted so objects differ in colour."""
    path = skimage_data_dir() / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read the embedded photograph {path}; reinstall scikit-image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@lru_cache(maxsize=1)
def horse_silhouette() -> np.ndarray:
    """The scikit-image horse as a boolean mask, cropped to its bounding box."""
    gray = cv2.imread(str(skimage_data_dir() / "horse.png"), cv2.IMREAD_GRAYSCALE)
    mask = gray < 128
    ys, xs = np.nonzero(mask)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _crop(photo: np.ndarray, x: float, y: float, side: float, out: int) -> np.ndarray:
    """Square crop at (x, y) of ``side`` pixels of ``photo``, resized to ``out`` x ``out``."""
    h, w = photo.shape[:2]
    side = int(min(side, h, w))
    x0 = int(np.clip(x, 0, w - side))
    y0 = int(np.clip(y, 0, h - side))
    return cv2.resize(photo[y0 : y0 + side, x0 : x0 + side], (out, out), interpolation=cv2.INTER_AREA)


def _tint(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour a grey-looking image with a random gain per channel so textures stay distinguishable."""
    if np.abs(image[..., 0].astype(int) - image[..., 2]).mean() < 4:
        gain = rng.uniform(0.5, 1.3, size=3)
        image = np.clip(image * gain, 0, 255).astype(np.uint8)
    return image


def _shape_mask(kind: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean sprite mask (side, side) of the given shape kind."""
    if kind == "horse":
        sil = horse_silhouette().astype(np.uint8)
        h, w = sil.shape
        scale = side / max(h, w)
        sil = cv2.resize(sil, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_NEAREST)
        if rng.random() < 0.5:
            sil = sil[:, ::-1]
        out = np.zeros((side, side), np.uint8)
        y0, x0 = (side - sil.shape[0]) // 2, (side - sil.shape[1]) // 2
        out[y0 : y0 + sil.shape[0], x0 : x0 + sil.shape[1]] = sil
        return out.astype(bool)
    canvas = np.zeros((side, side), np.uint8)
    c = side / 2
    if kind == "ellipse":
        axes = (int(c * rng.uniform(0.6, 0.95)), int(c * rng.uniform(0.4, 0.95)))
        cv2.ellipse(canvas, (int(c), int(c)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        n = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = c * rng.uniform(0.55, 0.95, n)
        pts = np.stack([c + radii * np.cos(angles), c + radii * np.sin(angles)], 1).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1)
    return canvas.astype(bool)


def _path(kind: str, frames: int, size: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Object centres (T, 2) in pixels (x, y) for a motion kind; travel is about a third of the frame."""
    t = np.arange(frames, dtype=np.float64)
    lo, hi = radius, size - radius
    start = rng.uniform(lo, hi, 2)
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    speed = rng.uniform(0.25, 0.5) * size / frames  # pixels per frame
    if kind == "still":
        return np.repeat(start[None], frames, 0)
    if kind == "linear":
        # Start so that the whole straight path stays inside the frame.
        travel = direction * speed * (frames - 1)
        start = np.clip(start, lo - np.minimum(travel, 0), hi - np.maximum(travel, 0))
        return start + t[:, None] * speed * direction
    if kind == "bouncing":
        speed *= 2.0
        raw = start + t[:, None] * speed * direction - lo
        span = hi - lo
        folded = np.mod(raw, 2 * span)
        return lo + np.where(folded > span, 2 * span - folded, folded)
    if kind == "circular":
        r = rng.uniform(0.15, 0.3) * size
        centre = np.clip(start, r + radius, size - r - radius) if size - 2 * (r + radius) > 0 else np.full(2, size / 2)
        omega = rng.choice([-1, 1]) * rng.uniform(1.0, 2.0) * np.pi / frames
        phase = rng.uniform(0, 2 * np.pi)
        return centre + r * np.stack([np.cos(phase + omega * t), np.sin(phase + omega * t)], 1)
    if kind == "accelerating":
        accel = 2 * 0.45 * size / (frames - 1) ** 2  # covers ~45% of the frame by the last frame
        travel = direction * 0.45 * size
        start = np.clip(start, lo - np.minimum(travel, 0), hi - np.maximum(travel, 0))
        return start + 0.5 * accel * (t[:, None] ** 2) * direction
    if kind == "zigzag":
        normal = np.array([-direction[1], direction[0]])
        period = frames / rng.uniform(1.5, 3.0)
        wave = 0.12 * size * (2 * np.abs(2 * (t / period - np.floor(t / period + 0.5))) - 1)
        travel = direction * speed * (frames - 1)
        start = np.clip(start, lo - np.minimum(travel, 0), hi - np.maximum(travel, 0))
        return start + t[:, None] * speed * direction + wave[:, None] * normal
    raise ValueError(f"unknown motion kind {kind!r}; choose one of {MOTION_KINDS}")


def _paste(frame: np.ndarray, ids: np.ndarray, sprite: np.ndarray, alpha: np.ndarray, cx: float, cy: float, oid: int):
    """Paste ``sprite`` (h, w, 3) where ``alpha`` (h, w) is set, centred at (cx, cy), clipping at the borders."""
    h, w = alpha.shape
    size_y, size_x = frame.shape[:2]
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, size_x), min(y0 + h, size_y)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    sub = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    frame[fy0:fy1, fx0:fx1][sub] = sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0][sub]
    ids[fy0:fy1, fx0:fx1][sub] = oid


def make_clip(
    seed: int,
    frames: int = 32,
    size: int = 64,
    difficulty: float = 0.0,
    max_objects: int = 3,
    motion: str | None = None,
) -> SyntheticClip:
    """Render one clip, fully determined by its arguments."""
    rng = np.random.default_rng(seed)
    photos = rng.permutation(len(PHOTOS))
    background = _tint(load_photo(PHOTOS[photos[0]]), rng)
    h, w = background.shape[:2]

    # Background crop window per frame; camera motion pans and zooms it slowly with difficulty.
    side0 = rng.uniform(0.45, 0.9) * min(h, w)
    x0, y0 = rng.uniform(0, w - side0), rng.uniform(0, h - side0)
    pan = difficulty * rng.uniform(-0.25, 0.25, 2) * side0
    zoom = 1 + difficulty * rng.uniform(-0.2, 0.2)
    t_rel = np.linspace(0, 1, frames)
    video = np.stack(
        [_crop(background, x0 + pan[0] * s, y0 + pan[1] * s, side0 * (1 + (zoom - 1) * s), size) for s in t_rel]
    )
    ids = np.zeros((frames, size, size), np.uint8)

    n_objects = int(rng.integers(1, max_objects + 1))
    kinds = [
        motion or str(rng.choice(MOTION_KINDS[:-1])) if i == 0 else str(rng.choice(MOTION_KINDS))
        for i in range(n_objects)
    ]
    for i, kind in enumerate(kinds):
        texture = _tint(load_photo(PHOTOS[photos[1 + i]]), rng)
        radius = rng.uniform(0.15, 0.25) * size
        scale = 1 + rng.uniform(-0.35, 0.35) * t_rel  # scale change over the clip
        base = int(np.ceil(2 * radius))
        shape = _shape_mask(str(rng.choice(SHAPES)), base, rng)
        patch = _crop(
            texture,
            rng.uniform(0, texture.shape[1]),
            rng.uniform(0, texture.shape[0]),
            min(texture.shape[:2]) * 0.5,
            base,
        )
        centres = _path(kind, frames, size, radius, rng)
        for t in range(frames):
            side = max(2, int(round(base * scale[t])))
            sprite = cv2.resize(patch, (side, side), interpolation=cv2.INTER_LINEAR)
            alpha = cv2.resize(shape.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST).astype(bool)
            _paste(video[t], ids[t], sprite, alpha, *centres[t], oid=i + 1)

    if difficulty > 0:
        noise = rng.normal(0, 6 * difficulty, video.shape)
        video = np.clip(video + noise, 0, 255).astype(np.uint8)
    return SyntheticClip(video, ids, kinds[0], n_objects, PHOTOS[photos[0]])


def clip_seed(seed: int, index: int) -> int:
    """The seed of clip ``index`` in a benchmark of base ``seed`` (independent streams per clip)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def split_indices(count: int, seed: int) -> dict[str, list[int]]:
    """Disjoint train/val/test clip indices (70/15/15), fixed by ``seed``."""
    order = np.random.default_rng(seed).permutation(count)
    n_train = int(round(count * SPLITS["train"]))
    n_val = int(round(count * SPLITS["val"]))
    return {
        "train": sorted(order[:n_train].tolist()),
        "val": sorted(order[n_train : n_train + n_val].tolist()),
        "test": sorted(order[n_train + n_val :].tolist()),
    }


def make_benchmark(
    count: int,
    frames: int,
    size: int,
    seed: int = 0,
    difficulty: float = 0.0,
    split: str | None = None,
    progress: bool = False,
) -> list[SyntheticClip]:
    """The clips of one split (or all of them) of a benchmark; ``split='unlabeled'`` gives ``count``
    clips of the GAN's training pool, disjoint from every split of any benchmark of this seed."""
    if split == "unlabeled":
        indices = range(UNLABELED_OFFSET, UNLABELED_OFFSET + count)
    elif split is None:
        indices = range(count)
    elif split in SPLITS:
        indices = split_indices(count, seed)[split]
    else:
        raise ValueError(f"unknown split {split!r}; choose one of {[*SPLITS, 'unlabeled']}")
    from tqdm.auto import tqdm

    bar = tqdm(indices, desc="rendering clips", disable=not progress, leave=False)
    return [make_clip(clip_seed(seed, i), frames, size, difficulty) for i in bar]


def write_benchmark(
    out: str | Path, videos: int, frames: int, size: int, seed: int = 0, difficulty: float = 0.0, progress: bool = True
) -> Path:
    """Write the benchmark in the DAVIS layout: ``JPEGImages/<seq>/00000.jpg``, ``Annotations/<seq>/00000.png``
    (indexed PNG, object ids), ``ImageSets/{train,val,test}.txt`` and ``meta.json`` (motion kinds)."""
    import json

    from tqdm.auto import tqdm

    from vosgan.data.io import write_image, write_indexed_png, write_result

    out = Path(out)
    params = {"videos": videos, "frames": frames, "size": size, "seed": seed, "difficulty": difficulty}
    if out.is_dir() and any(out.iterdir()):
        meta_path = out / "meta.json"
        same = meta_path.is_file() and json.loads(meta_path.read_text()).get("params") == params
        if not same:  # another dataset (a DAVIS root, or a benchmark of other settings): never mixed into
            raise FileExistsError(
                f"--out {out} is not empty and does not hold this benchmark ({params}): write it to an empty folder"
            )
    splits = split_indices(videos, seed)
    split_of = {i: name for name, idx in splits.items() for i in idx}
    meta = {}
    for i in tqdm(range(videos), desc="synthetic videos", disable=not progress):
        clip = make_clip(clip_seed(seed, i), frames, size, difficulty)
        name = f"synth{i:05d}"
        for t in range(frames):
            write_image(out / "JPEGImages" / name / f"{t:05d}.jpg", clip.frames[t])
            write_indexed_png(out / "Annotations" / name / f"{t:05d}.png", clip.masks[t])
        meta[name] = {"motion": clip.motion, "objects": clip.objects, "split": split_of[i]}
    (out / "ImageSets").mkdir(parents=True, exist_ok=True)
    for split, idx in splits.items():
        (out / "ImageSets" / f"{split}.txt").write_text("".join(f"synth{i:05d}\n" for i in idx))
    write_result(out / "meta.json", json.dumps({"params": params, "sequences": meta}, indent=1))
    return out
