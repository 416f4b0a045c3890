"""What a trained generator's masks look like, in numbers: are there objects, do they move, and does
the discriminator find them? Behind the model card's figures and notebook 03."""

from __future__ import annotations

import torch
from einops import rearrange, reduce

from vosgan.sampling import samples


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
    - ``motion``: mean distance in pixels the binarised mask's centre of mass moves per frame, over
      consecutive frames of object clips that both have foreground (0 if there are none);
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
        "motion": 0.0,
        "d_iou": 0.0,
        "diversity": 0.0,
    }
    if objects.any():
        target = hard[objects]
        path = centroid_path(target.float())
        present = reduce(target.float(), "b 1 t h w -> b t", "max") > 0
        both = present[:, 1:] & present[:, :-1]
        step = (path[:, 1:] - path[:, :-1]).norm(dim=-1)
        report["motion"] = step[both].mean().item() if both.any() else 0.0
        if probability is not None:
            pred = probability[objects].float() > 0.5
            union = (pred | target).sum().clamp_min(1)
            report["d_iou"] = ((pred & target).sum() / union).item()
        if len(target) > 1:
            report["diversity"] = 1 - pairwise_iou(target).item()
    return report


def mask_report(generator, discriminator, count: int = 64, seed: int = 0) -> dict[str, float]:
    """``mask_statistics`` of the generator's masks m(z) over ``count`` random clips, with the
    discriminator's segmentation of the same clips (``d_iou``: does D find G's objects?)."""
    drawn = samples(generator, discriminator, count=count, seed=seed)
    return mask_statistics(drawn.generated.mask, drawn.discriminator.probability)
