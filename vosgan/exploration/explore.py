"""Exploring the two latent spaces of a trained generator: scene ``z_c`` and motion trajectory ``z_m``.

Interpolations along each space, the SLERP/LERP/random contrast and the discriminator's view of a
clip. Every function returns tensors (a ``GeneratorOutput`` whose batch axis walks the
interpolation) and leaves rendering to ``vosgan.viz.frames``; sampling itself is ``vosgan.models.sampling``.
"""

from __future__ import annotations

import numpy as np
import torch
from einops import repeat

from vosgan.data.clips import to_uint8
from vosgan.data.flow import batch_flow
from vosgan.models import Discriminator, Generator, GeneratorOutput
from vosgan.models.latent import random_trajectory, slerp, trajectory
from vosgan.models.sampling import LatentPoint, discriminate, render


def _positions(steps: int) -> torch.Tensor:
    return torch.linspace(0.0, 1.0, steps)


def scene_interpolation(generator: Generator, a: LatentPoint, b: LatentPoint, steps: int = 5, mode: str = "slerp"):
    """SLERP from scene ``a.z_c`` to ``b.z_c`` with ``a``'s motion fixed: batch = steps."""
    frames = generator.cfg.frames
    z_c = slerp(a.z_c[None], b.z_c[None], _positions(steps))[0]
    z_m = repeat(trajectory(a.start[None], a.end[None], frames, mode)[0], "t d -> s t d", s=steps)
    return render(generator, z_c, z_m)


def motion_interpolation(generator: Generator, a: LatentPoint, b: LatentPoint, steps: int = 5, mode: str = "slerp"):
    """From ``a``'s trajectory to ``b``'s (both endpoints move by SLERP) with ``a``'s scene fixed."""
    frames = generator.cfg.frames
    s = _positions(steps)
    starts = slerp(a.start[None], b.start[None], s)[0]
    ends = slerp(a.end[None], b.end[None], s)[0]
    z_m = trajectory(starts, ends, frames, mode)
    return render(generator, repeat(a.z_c, "d -> s d", s=steps), z_m)


def move_endpoint(generator: Generator, a: LatentPoint, target: torch.Tensor, which: str = "end", steps: int = 5):
    """Slide one endpoint of ``a``'s trajectory towards ``target`` (d,), scene and other endpoint fixed."""
    if which not in ("start", "end"):
        raise ValueError(f"which must be 'start' or 'end', got {which!r}")
    moving = a.end if which == "end" else a.start
    path = slerp(moving[None], target[None], _positions(steps))[0]
    fixed = repeat(a.start if which == "end" else a.end, "d -> s d", s=steps)
    starts, ends = (fixed, path) if which == "end" else (path, fixed)
    z_m = trajectory(starts, ends, generator.cfg.frames, "slerp")
    return render(generator, repeat(a.z_c, "d -> s d", s=steps), z_m)


def trajectory_contrast(generator: Generator, a: LatentPoint, seed: int = 0) -> dict[str, GeneratorOutput]:
    """The same endpoints through SLERP, LERP, and independent random points (the Table 4 baseline)."""
    return {
        mode: render(generator, a.z_c[None], z_m)
        for mode, z_m in contrast_trajectories(a, generator.cfg.frames, seed).items()
    }


def contrast_trajectories(point: LatentPoint, frames: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``z_m`` (1, T, d) through SLERP, LERP and independent random points, all with the same endpoints."""
    return {
        "slerp": trajectory(point.start[None], point.end[None], frames, "slerp"),
        "lerp": trajectory(point.start[None], point.end[None], frames, "lerp"),
        "random": random_trajectory(point.start[None], point.end[None], frames, torch.Generator().manual_seed(seed)),
    }


def contrast_steps(point: LatentPoint, frames: int, seed: int = 0) -> dict[str, float]:
    """Mean latent step of each of the three contrast trajectories."""
    return {mode: latent_step(z_m) for mode, z_m in contrast_trajectories(point, frames, seed).items()}


def latent_step(z_m: torch.Tensor) -> float:
    """Mean distance between consecutive trajectory points of (B, T, d)."""
    return float((z_m[:, 1:] - z_m[:, :-1]).norm(dim=-1).mean())


@torch.no_grad()
def discriminator_view(generator: Generator, discriminator: Discriminator, point: LatentPoint) -> dict[str, np.ndarray]:
    """What self-supervision means, for one generated clip: each entry is RGB uint8 (T, H, W, 3).

    The generator's own mask (the segmentation target) next to the discriminator's segmentation,
    and Farneback flow of the clip (the flow target) next to the discriminator's flow, which is shown
    at its own scale (``vosgan.viz.frames.discriminator_flow_frames``: several times weaker than the target).
    """
    from vosgan.viz.frames import FLOW_DISPLAY_FRACTION, discriminator_flow_frames, flow_frames, mask_frames

    cfg = generator.cfg
    out = render(generator, point.z_c[None], trajectory(point.start[None], point.end[None], cfg.frames, "slerp"))
    d = discriminate(discriminator, out.video)
    limit = FLOW_DISPLAY_FRACTION * cfg.size  # full colour at this many pixels per frame
    return {
        "video": to_uint8(out.video[0]),
        "generator mask m(z)": mask_frames(out.mask[0]),
        "D segmentation": mask_frames(d.probability[0]),
        "Farneback flow OF(G(z))": flow_frames(batch_flow(out.video)[0], limit),
        "D flow": discriminator_flow_frames(d.flow_pixels[0])[0],  # at its own scale: several times weaker
    }


@torch.no_grad()
def latent_effects(generator: Generator, pairs: int = 10, steps: int = 5, seed: int = 0) -> dict[str, float]:
    """How much each latent space moves each stream: mean over ``pairs`` random pairs of the summed
    mean |change| between consecutive points of a ``steps``-point interpolation.

    ``zm_mask``, ``zm_foreground``: along z_M (scene fixed); ``zc_background``, ``zc_mask``: along z_C
    (motion fixed). A generator whose two spaces are separated has zm_mask >= zc_mask.
    """

    def change(x: torch.Tensor) -> float:  # (steps, ...) -> summed mean |x_{s+1} - x_s|
        return float((x[1:] - x[:-1]).abs().flatten(1).mean(1).sum())

    totals = {"zm_mask": 0.0, "zm_foreground": 0.0, "zc_background": 0.0, "zc_mask": 0.0}
    dim = generator.cfg.latent.dim
    for i in range(pairs):
        a, b = LatentPoint.from_seed(dim, seed * 10_007 + 2 * i), LatentPoint.from_seed(dim, seed * 10_007 + 2 * i + 1)
        motion = motion_interpolation(generator, a, b, steps)
        scene = scene_interpolation(generator, a, b, steps)
        totals["zm_mask"] += change(motion.mask)
        totals["zm_foreground"] += change(motion.foreground)
        totals["zc_background"] += change(scene.background)
        totals["zc_mask"] += change(scene.mask)
    return {k: v / pairs for k, v in totals.items()}
