"""Writers of tiny datasets in the real datasets' exact on-disk layouts (test fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vosgan.data.io import write_image, write_indexed_png, write_video
from vosgan.data.synthetic import make_clip


def clip(seed: int, frames: int = 6, size: int = 48):
    return make_clip(seed, frames=frames, size=size)


def write_davis(root: Path, names=("bear", "car-shadow", "dogs-jump"), frames: int = 6) -> Path:
    """DAVIS 2017: JPEGImages/480p/<seq>/00000.jpg, Annotations/480p/<seq>/00000.png, ImageSets/2017/*.txt."""
    for i, name in enumerate(names):
        c = clip(i, frames)
        for t in range(frames):
            write_image(root / "JPEGImages" / "480p" / name / f"{t:05d}.jpg", c.frames[t])
            write_indexed_png(root / "Annotations" / "480p" / name / f"{t:05d}.png", c.masks[t])
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "train.txt").write_text("\n".join(names[:-1]) + "\n")
    (root / "ImageSets" / "2017" / "val.txt").write_text(names[-1] + "\n")
    return root


def write_segtrack(root: Path, frames: int = 5) -> Path:
    """SegTrack-v2: JPEGImages/<seq>/*.png; GroundTruth/<seq>/*.png (one object) or GroundTruth/<seq>/<k>/*.png."""
    single, multi = clip(1, frames), clip(2, frames)
    for t in range(frames):
        write_image(root / "JPEGImages" / "frog" / f"frog_{t:05d}.png", single.frames[t])
        write_image(
            root / "GroundTruth" / "frog" / f"frog_{t:05d}.png",
            np.repeat((single.masks[t] > 0)[..., None] * 255, 3, 2).astype(np.uint8),
        )
        write_image(root / "JPEGImages" / "bmx" / f"bmx_{t:05d}.png", multi.frames[t])
        for k in (1, 2):
            binary = np.repeat((multi.masks[t] == k)[..., None] * 255, 3, 2).astype(np.uint8)
            write_image(root / "GroundTruth" / "bmx" / str(k) / f"bmx_{t:05d}.png", binary)
    return root


def write_golf(root: Path, lengths=(20, 12)) -> Path:
    """VGAN golf clips: one JPEG per clip, 128 wide, 128 x T high, listed in a text file."""
    names = []
    for i, length in enumerate(lengths):
        c = make_clip(i, frames=length, size=128)
        name = f"golf/clip{i}.jpg"
        write_image(root / name, c.frames.reshape(length * 128, 128, 3))
        names.append(name)
    (root / "golf.txt").write_text("\n".join(names) + "\n")
    return root


def write_weizmann(root: Path, frames: int = 45) -> Path:
    """Weizmann: <person>_<action>.avi files, plus one corrupt file."""
    for i, name in enumerate(["daria_bend", "lena_run1", "lena_run2"]):
        write_video(root / f"{name}.avi", make_clip(i, frames=frames, size=48).frames)
    (root / "ido_jump.avi").write_bytes(b"not a video at all")
    return root


def write_ucf101(root: Path) -> Path:
    """UCF101: <Class>/v_<Class>_gXX_cYY.avi and ucfTrainTestlist/{classInd,trainlist01,testlist01}.txt."""
    classes = ["ApplyEyeMakeup", "Basketball"]
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    train, test = [], []
    for i, cls in enumerate(classes):
        for g in (8, 1):
            rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
            write_video(root / rel, make_clip(10 * i + g, frames=10, size=40).frames)
            (train if g == 8 else test).append(rel)
    (lists / "trainlist01.txt").write_text("".join(f"{r} {classes.index(r.split('/')[0]) + 1}\n" for r in train))
    (lists / "testlist01.txt").write_text("".join(f"{r}\n" for r in test))
    return root


def evaluate_args(root: Path, gt: str = "gt", pred: str = "pred", json_name: str = "r.json") -> list[str]:
    """``vosgan evaluate`` arguments for ``root/gt`` against ``root/pred``, results in ``root/json_name``."""
    return ["evaluate", "--gt", str(root / gt), "--pred", str(root / pred), "--json", str(root / json_name)]
