"""Sampling a trained generator: latent points named by a seed, rendering, and random samples with the
discriminator's view of them. The one sampler behind sample grids, metrics, widgets and notebooks."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vosgan.device import autocast
from vosgan.models import Discriminator, DiscriminatorOutput, Generator, GeneratorOutput
from vosgan.models.latent import sample_latents


@dataclass(frozen=True)
class LatentPoint:
    """One scene vector and the two endpoints of one motion trajectory, each (d,)."""

    z_c: torch.Tensor
    start: torch.Tensor
    end: torch.Tensor

    @classmethod
    def from_seed(cls, dim: int, seed: int) -> LatentPoint:
        """The latents a seed stands for, independent of device and batch."""
        g = torch.Generator().manual_seed(seed)
        return cls(*torch.randn(3, dim, generator=g))


@torch.no_grad()
def render(generator: Generator, z_c: torch.Tensor, z_m: torch.Tensor, precision: str = "auto") -> GeneratorOutput:
    """Generator outputs for ``z_c`` (B, d) and ``z_m`` (B, T, d), in eval mode, float32 on the CPU;
    ``precision`` as ``vosgan.device.autocast`` takes it."""
    generator.eval()
    device = next(generator.parameters()).device
    with autocast(device, precision):
        out = generator(z_c.to(device), z_m.to(device))
    return GeneratorOutput(*(t.float().cpu() for t in (out.video, out.foreground, out.background, out.mask)))


@torch.no_grad()
def discriminate(discriminator: Discriminator, video: torch.Tensor, precision: str = "auto") -> DiscriminatorOutput:
    """The discriminator's outputs for ``video`` (B, 3, T, H, W), in eval mode, float32 on the CPU;
    ``precision`` as ``vosgan.device.autocast`` takes it."""
    discriminator.eval()
    device = next(discriminator.parameters()).device
    with autocast(device, precision):
        return discriminator(video.to(device)).cpu()


@dataclass
class Samples:
    """Generated clips and the discriminator's view of them, on the CPU."""

    generated: GeneratorOutput
    discriminator: DiscriminatorOutput


@torch.no_grad()
def samples(generator: Generator, discriminator: Discriminator, count: int = 3, seed: int = 0) -> Samples:
    """``count`` random clips (latents drawn from ``seed``) and the discriminator's view of them."""
    z_c, z_m = sample_latents(generator.cfg, count, torch.Generator().manual_seed(seed))
    out = render(generator, z_c, z_m)
    return Samples(out, discriminate(discriminator, out.video))
