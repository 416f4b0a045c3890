"""What a trained generator's masks look like, in numbers: are there objects, do they move, and does
the discriminator find them? Behind the model card's figures and notebook 03.

Motion is measured so that no shortcut passes for it (``object_motion``): the net travel of the
binarised mask's centre of mass from the first frame to the last (a mask that swells or flickers in
place travels nothing), how straight the path is, and how much the mask's area changes; and, over
triples of draws, how much the displacement changes with z_M (z_C fixed) against with z_C (z_M fixed).
The same travel and area figures for the training data's first objects sit beside them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from einops import rearrange, reduce

from vosgan.models.latent import sample_latents
from vosgan.models.sampling import render, samples


def centroid_path(mask: torch.Tensor) -> torch.Tensor:
    """Per-frame centre of mass (x, y) in pixels of masks (B, 1, T, H, W) -> (B, T, 2)."""
    _, _, _, h, w = mask.shape
    weight = mask.float().clamp_min(0)
    total = reduce(weight, "b 1 t h w -> b t", "sum").clamp_min(1e-6)
    ys = rearrange(torch.arange(h, dtype=weight.dtype), "h -> 1 1 1 h 1")
    xs = rearrange(torch.arange(w, dtype=weight.dtype), "w -> 1 1 1 1 w")
    cx = reduce(weight * xs, "b 1 t h w -> b t", "sum") / total
    cy = reduce(weight * ys, "b 1 t h w -> b t", "sum") / total
    return torch.stack([cx, cy], dim=-1)


def object_paths(mask: torch.Tensor) -> torch.Tensor:
    """The path of each clip's object: centre of mass (x, y) of the binarised mask (m > 0.5) per frame
    of masks (B, 1, T, H, W) -> (B, T, 2) pixels, NaN in frames without foreground."""
    hard = (mask.float() > 0.5).float()
    present = reduce(hard, "b 1 t h w -> b t 1", "max") > 0
    return torch.where(present, centroid_path(hard), torch.full_like(present, float("nan"), dtype=torch.float))


def pairwise_iou(hard: torch.Tensor) -> torch.Tensor:
    """Mean IoU over the pairs of distinct clips of binary masks (N, 1, T, H, W), N >= 2."""
    flat = rearrange(hard.float(), "n 1 t h w -> n (t h w)")
    inter = flat @ flat.T
    area = flat.sum(dim=1)
    union = (area[:, None] + area[None, :] - inter).clamp_min(1)
    n = len(flat)
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    return (inter / union)[off_diagonal].mean()


def mask_statistics(mask: torch.Tensor, probability: torch.Tensor | None = None) -> dict[str, float]:
    """Statistics of masks (B, 1, T, H, W) in [0, 1], and of D's foreground probability on the same clips.

    - ``area``: mean of m, the share of the frame the foreground covers (objects in the embedded
      benchmark cover about 0.1);
    - ``crisp``: share of mask pixels below 0.1 or above 0.9 (1 for a hard mask);
    - ``object_clips``: share of clips whose binarised mask (m > 0.5) covers 1-50% of the frame;
    - ``d_iou``: IoU of the segmentation (> 0.5) with the binarised mask, over object clips;
    - ``diversity``: 1 - the mean IoU of the binarised masks of two different object clips (0 when
      every clip has the same mask: the generator's mode collapse; near 1 when objects differ).
    """
    mask = mask.float()
    hard = mask > 0.5
    cover = reduce(hard.float(), "b 1 t h w -> b", "mean")
    objects = (cover >= 0.01) & (cover <= 0.5)
    report = {
        "area": mask.mean().item(),
        "crisp": ((mask < 0.1) | (mask > 0.9)).float().mean().item(),
        "object_clips": objects.float().mean().item(),
        "d_iou": 0.0,
        "diversity": 0.0,
    }
    if objects.any():
        target = hard[objects]
        if probability is not None:
            pred = probability[objects].float() > 0.5
            union = (pred | target).sum().clamp_min(1)
            report["d_iou"] = ((pred & target).sum() / union).item()
        if len(target) > 1:
            report["diversity"] = 1 - pairwise_iou(target).item()
    return report


def mask_report(generator, discriminator, count: int = 64, seed: int = 0) -> dict[str, float]:
    """``mask_statistics`` of the generator's masks m(z) over ``count`` random clips, with the
    discriminator's segmentation of the same clips (``d_iou``: does D find G's objects?). How the
    objects move is ``motion_report``'s."""
    drawn = samples(generator, discriminator, count=count, seed=seed)
    return mask_statistics(drawn.generated.mask, drawn.discriminator.probability)


AREA_CHANGE_LIMIT = 3.0  # a clip whose mask's largest area is over 3x its smallest "swells"


@dataclass
class ClipMotion:
    """Per-clip motion of binarised masks, for the clips with an object in the first and last frame."""

    clip: torch.Tensor  # (K,) indices of those clips in the batch
    displacement: torch.Tensor  # (K, 2) pixels, centre of mass of the last frame minus the first
    travel: torch.Tensor  # (K,) net travel per frame, |displacement| / (T - 1)
    straightness: torch.Tensor  # (K,) net travel / path length (1 for a straight path, 0 for a loop)
    area_change: torch.Tensor  # (K,) largest / smallest mask area over the clip (inf if it vanishes)


def object_motion(hard: torch.Tensor) -> ClipMotion:
    """``ClipMotion`` of binary masks (B, 1, T, H, W): over the clips whose mask covers 1-50 % of the
    frame (object clips) and has foreground in the first and the last frame."""
    hard = hard.float()
    t = hard.shape[2]
    area = reduce(hard, "b 1 t h w -> b t", "sum")
    cover = reduce(hard, "b 1 t h w -> b", "mean")
    keep = (cover >= 0.01) & (cover <= 0.5) & (area[:, 0] > 0) & (area[:, -1] > 0)
    path = centroid_path(hard[keep])
    present = area[keep] > 0
    displacement = path[:, -1] - path[:, 0]
    steps = (path[:, 1:] - path[:, :-1]).norm(dim=-1) * (present[:, 1:] & present[:, :-1])
    length = steps.sum(dim=1)
    net = displacement.norm(dim=-1)
    straightness = torch.where(length > 0, net / length.clamp_min(1e-6), torch.zeros_like(net))
    smallest = area[keep].min(dim=1).values
    change = area[keep].max(dim=1).values / smallest.clamp_min(1e-6)
    change = torch.where(smallest > 0, change, torch.full_like(change, float("inf")))
    return ClipMotion(keep.nonzero()[:, 0], displacement, net / (t - 1), straightness.clamp(0, 1), change)


@dataclass
class MotionReport:
    """Motion figures of a generator's object clips next to the data's (``data_*``); medians over clips.

    ``latent_contrast``: mean |change of the displacement| when z_M is redrawn (z_C fixed) over the
    same when z_C is redrawn (z_M fixed): above 1 when the motion latent steers the trajectory."""

    object_clips: float  # share of clips whose mask covers 1-50 % of the frame
    travel: float  # median net travel, pixels per frame
    straightness: float  # median net travel / path length
    swelling: float  # share of object clips whose area changes by more than AREA_CHANGE_LIMIT
    latent_contrast: float
    zm_displacement: float  # mean |change of the displacement| (pixels) with z_M redrawn
    zc_displacement: float  # the same with z_C redrawn
    data_travel: float
    data_straightness: float
    data_swelling: float
    clips: int

    def to_dict(self, prefix: str = "") -> dict[str, float]:
        """JSON-ready, keys prefixed (``motion_`` in ``evaluation.jsonl``)."""
        return {prefix + k: float(v) for k, v in asdict(self).items()}

    @property
    def travel_ratio(self) -> float:
        """The model's median travel over the data's."""
        return self.travel / self.data_travel if self.data_travel else float("nan")


def motion_summary(motion: ClipMotion) -> dict[str, float]:
    """Median travel and straightness, and the share of clips that swell, of one ``ClipMotion``."""
    if len(motion.clip) == 0:
        return {"travel": 0.0, "straightness": 0.0, "swelling": 1.0}
    return {
        "travel": motion.travel.median().item(),
        "straightness": motion.straightness.median().item(),
        "swelling": (motion.area_change > AREA_CHANGE_LIMIT).float().mean().item(),
    }


def data_motion(frames: int, size: int, count: int = 256, seed: int = 0) -> dict[str, float]:
    """``motion_summary`` of the first object of ``count`` clips of the synthetic unlabeled pool
    (the GAN's training data) rendered at the model's ``frames`` and ``size``."""
    from vosgan.data.synthetic import make_benchmark

    clips = make_benchmark(count, frames, size, seed, split="unlabeled")
    first = torch.from_numpy(np.stack([c.masks == 1 for c in clips]))
    return motion_summary(object_motion(rearrange(first, "b t h w -> b 1 t h w")))


@torch.no_grad()
def motion_report(generator, count: int = 256, seed: int = 0, data: dict[str, float] | None = None) -> MotionReport:
    """``MotionReport`` of ``count`` random clips of ``generator`` (latents from ``seed``): the base
    draws, the same z_C with new z_M, and the same z_M with new z_C. ``data``: ``data_motion`` at the
    generator's geometry (computed when not given)."""
    cfg = generator.cfg
    rng = torch.Generator().manual_seed(seed)
    z_c, z_m = sample_latents(cfg, count, rng)
    other_c, other_m = sample_latents(cfg, count, rng)
    masks = [render(generator, c, m).mask > 0.5 for c, m in ((z_c, z_m), (z_c, other_m), (other_c, z_m))]
    base, new_m, new_c = (object_motion(m) for m in masks)
    cover = reduce(masks[0].float(), "b 1 t h w -> b", "mean")
    both = lambda a, b: set(a.clip.tolist()) & set(b.clip.tolist())  # noqa: E731
    common = sorted(both(base, new_m) & both(base, new_c))

    def displacement(m: ClipMotion) -> torch.Tensor:
        index = {c: i for i, c in enumerate(m.clip.tolist())}
        return m.displacement[[index[c] for c in common]]

    if common:
        zm = (displacement(new_m) - displacement(base)).norm(dim=-1).mean().item()
        zc = (displacement(new_c) - displacement(base)).norm(dim=-1).mean().item()
    else:
        zm = zc = 0.0
    data = data if data is not None else data_motion(cfg.frames, cfg.size, seed=seed)
    summary = motion_summary(base)
    return MotionReport(
        object_clips=((cover >= 0.01) & (cover <= 0.5)).float().mean().item(),
        latent_contrast=zm / zc if zc > 0 else float("inf") if zm > 0 else 0.0,
        zm_displacement=zm,
        zc_displacement=zc,
        data_travel=data["travel"],
        data_straightness=data["straightness"],
        data_swelling=data["swelling"],
        clips=count,
        **summary,
    )
