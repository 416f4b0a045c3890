"""Latent trajectories: the scene vector ``z_c`` and the per-frame motion trajectory ``z_m``.

The paper samples two points of the motion space and walks between them by spherical linear
interpolation (SLERP), one point per frame, so consecutive frames get nearby, coherent codes.
``lerp`` and ``random`` (independent points, the Table 4 baseline) are the ablations.
"""

from __future__ import annotations

import torch
from einops import rearrange

from vosgan.config import VOSGANConfig


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between ``a`` and ``b`` (B, d) at positions ``t`` (T,) -> (B, T, d);
    unbatched points (d,) give (T, d).

    The angle is taken between the directions; for unit-norm endpoints every point is unit norm.
    Nearly parallel endpoints fall back to linear interpolation to avoid dividing by sin(0).
    """
    if a.ndim == 1:
        return slerp(a[None], b[None], t)[0]
    a_dir = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b_dir = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.arccos((a_dir * b_dir).sum(-1).clamp(-1.0, 1.0))  # (B,)
    omega = rearrange(omega, "b -> b 1 1")
    t = rearrange(t.to(a), "t -> 1 t 1")
    sin_omega = torch.sin(omega)
    safe = sin_omega.abs() > 1e-6
    w_a = torch.where(safe, torch.sin((1 - t) * omega) / torch.where(safe, sin_omega, 1.0), 1 - t)
    w_b = torch.where(safe, torch.sin(t * omega) / torch.where(safe, sin_omega, 1.0), t)
    return w_a * rearrange(a, "b d -> b 1 d") + w_b * rearrange(b, "b d -> b 1 d")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation between ``a`` and ``b`` (B, d) at ``t`` (T,) -> (B, T, d)."""
    t = rearrange(t.to(a), "t -> 1 t 1")
    return (1 - t) * rearrange(a, "b d -> b 1 d") + t * rearrange(b, "b d -> b 1 d")


def trajectory(start: torch.Tensor, end: torch.Tensor, frames: int, mode: str) -> torch.Tensor:
    """A motion trajectory ``z_m`` (B, T, d) from ``start`` to ``end`` (B, d) by ``mode``."""
    t = torch.linspace(0.0, 1.0, frames, device=start.device)
    if mode == "slerp":
        return slerp(start, end, t)
    if mode == "lerp":
        return lerp(start, end, t)
    raise ValueError(f"trajectory mode {mode!r} interpolates nothing; use 'slerp' or 'lerp'")


def random_trajectory(start: torch.Tensor, end: torch.Tensor, frames: int, generator: torch.Generator | None = None):
    """The Table 4 baseline's "trajectory" (B, T, d): independent N(0, I) points, the first and last
    set to ``start`` and ``end`` (B, d), so it shares its endpoints with the SLERP one."""
    points = torch.randn(start.shape[0], frames, start.shape[-1], generator=generator).to(start)
    points[:, 0], points[:, -1] = start, end
    return points


def sample_latents(
    cfg: VOSGANConfig,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``z_c`` (B, d) and ``z_m`` (B, T, d) from N(0, I) as the config's trajectory says.

    Sampling happens on the CPU with ``generator`` so a seed gives the same latents on any device.
    """
    d, frames = cfg.latent.dim, cfg.frames
    z_c = torch.randn(batch_size, d, generator=generator)
    if cfg.latent.trajectory == "random":
        z_m = torch.randn(batch_size, frames, d, generator=generator)  # all points independent
    else:
        ends = torch.randn(2, batch_size, d, generator=generator)
        z_m = trajectory(ends[0], ends[1], frames, cfg.latent.trajectory)
    return z_c.to(device), z_m.to(device)
