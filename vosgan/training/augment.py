"""Perturbations and augmentations of clips around the discriminator (not in the VOS-GAN papers;
all off in every preset, see docs/architecture.md).

- ``shift_foreground``: Bielski & Favaro 2019 ("Emergence of object segmentation in perturbed
  generative models"): the foreground and its mask move together by a random integer offset
  relative to the background before composition, so only masks that cover whole objects survive.
  One offset per clip, the same for all frames, keeps the clip's motion.
- ``glide_foreground``: the kit's own, after the same idea: foreground and mask glide together at one
  random constant velocity per clip relative to the static background, so every generated object
  moves like the benchmark's objects (a rigid translation over a still scene) whatever G does.
- ``paste_on_backgrounds``: after the copy-pasting GAN (Arandjelovic & Zisserman 2019), the generated
  foreground and mask composited over a real background (a real clip's temporal median).
- ``add_static_decoy``: the kit's own, a still copy of the generated object behind the moving one in
  the discriminator's fake clips; the segmentation target is the moving object only.
- ``camouflage_foreground``: the kit's own, a share of the discriminator's generated clips take a
  patch of their own background as the object's texture, so that, once it glides, only its motion
  tells it from the scene (the premise of camouflage benchmarks, Lamdouar et al. 2020, "Betrayed by
  Motion").
- ``DiffAugment``: Zhao et al. 2020, the same differentiable transform on real and generated clips
  before D, drawn once per clip for all its frames (DIGAN's video version): colour, translation,
  cutout. The geometric part is returned so dense targets (segmentation, flow) get the same transform.

Every function takes and returns (B, C, T, H, W) tensors and draws from an explicit ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange

from vosgan.models import GeneratorOutput


def translate(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """Move each clip of ``x`` (B, C, T, H, W) by integer pixels ``dx``, ``dy`` (B,), filling with zeros
    (or, with ``wrap``, bringing in what leaves the other side)."""
    b, c, t, h, w = x.shape
    ys = rearrange(torch.arange(h, device=x.device), "h -> 1 h 1") - rearrange(dy.to(x.device), "b -> b 1 1")
    xs = rearrange(torch.arange(w, device=x.device), "w -> 1 1 w") - rearrange(dx.to(x.device), "b -> b 1 1")
    if wrap:
        ys, xs = ys % h, xs % w
    valid = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)  # (B, H, W)
    flat = rearrange(ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1), "b h w -> b 1 1 (h w)")
    index = flat.expand(b, c, t, h * w)
    out = torch.gather(rearrange(x, "b c t h w -> b c t (h w)"), 3, index)
    out = rearrange(out, "b c t (h w) -> b c t h w", h=h) * rearrange(valid, "b h w -> b 1 1 h w").to(x.dtype)
    return out


def random_offsets(batch: int, size: int, fraction: float, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer offsets (B,), (B,) uniform in [-fraction * size, fraction * size]."""
    limit = int(round(fraction * size))
    return tuple(torch.randint(-limit, limit + 1, (batch,), generator=rng) for _ in range(2))


def recompose(out: GeneratorOutput, move) -> GeneratorOutput:
    """Eq. 1 again with ``move`` applied to the foreground and the mask (the background stays)."""
    return GeneratorOutput.compose(move(out.foreground), out.background, move(out.mask))


def shift_foreground(out: GeneratorOutput, fraction: float, rng: torch.Generator) -> GeneratorOutput:
    """Eq. 1 recomposed with foreground and mask shifted by one random offset per clip."""
    dx, dy = random_offsets(out.mask.shape[0], out.mask.shape[-1], fraction, rng)
    return recompose(out, lambda x: translate(x, dx, dy))


def glide_offsets(batch: int, frames: int, speed: float, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer offsets (B, T), (B, T) of a constant velocity per clip, each component uniform in
    [-speed, speed] pixels per frame, rounded per frame and zero at the clip's middle."""
    velocity = (torch.rand(2, batch, 1, generator=rng) * 2 - 1) * speed
    time = torch.arange(frames) - (frames - 1) / 2
    dx, dy = torch.round(velocity * time)
    return dx.long(), dy.long()


def glide_foreground(out: GeneratorOutput, speed: float, rng: torch.Generator) -> GeneratorOutput:
    """Eq. 1 recomposed with foreground and mask gliding at one random velocity per clip (up to
    ``speed`` x size pixels per frame in each direction) over the still background."""
    b, _, t, _, w = out.mask.shape
    dx, dy = glide_offsets(b, t, speed * w, rng)

    def move(x: torch.Tensor) -> torch.Tensor:  # every frame by its own offset
        frames = rearrange(x, "b c t h w -> (b t) c 1 h w")
        moved = translate(frames, rearrange(dx, "b t -> (b t)"), rearrange(dy, "b t -> (b t)"))
        return rearrange(moved, "(b t) c 1 h w -> b c t h w", b=b)

    return recompose(out, move)


def temporal_median(video: torch.Tensor) -> torch.Tensor:
    """Per-pixel median over time of clips (B, C, T, H, W) -> (B, C, H, W): the background of a static camera."""
    return video.median(dim=2).values


def paste_on_backgrounds(
    out: GeneratorOutput, backgrounds: torch.Tensor, share: float, rng: torch.Generator
) -> GeneratorOutput:
    """Eq. 1 recomposed over ``backgrounds`` (N, 3, H, W) for a random ``share`` of the clips (each takes
    a random one of them); the other clips keep b(z_C)."""
    b = out.mask.shape[0]
    chosen = torch.rand(b, generator=rng) < share
    index = torch.randint(0, len(backgrounds), (b,), generator=rng)
    picked = backgrounds[index].to(out.background)
    background = torch.where(rearrange(chosen, "b -> b 1 1 1").to(picked.device), picked, out.background)
    return GeneratorOutput.compose(out.foreground, background, out.mask)


def add_static_decoy(out: GeneratorOutput, share: float, rng: torch.Generator) -> GeneratorOutput:
    """For a random ``share`` of the clips, a still copy of the generator's own object (frame 0's mask
    and foreground, moved by a random offset of a quarter to a half of the frame, wrapping around the
    borders so it is always in view) behind the moving
    one. ``mask`` stays the moving object's: the segmentation target, which appearance alone can no
    longer tell from the decoy, only motion can (the kit's own augmentation; see docs/architecture.md)."""
    b, _, t, h, w = out.mask.shape
    chosen = (torch.rand(b, generator=rng) < share).to(out.mask.device)
    magnitude = torch.randint(h // 4, h // 2 + 1, (2, b), generator=rng)
    sign = torch.randint(0, 2, (2, b), generator=rng) * 2 - 1
    dx, dy = magnitude * sign
    still = lambda x: translate(x[:, :, :1].expand(-1, -1, t, -1, -1), dx, dy, wrap=True)  # noqa: E731
    decoy = still(out.mask) * rearrange(chosen, "b -> b 1 1 1 1").to(out.mask)
    behind = decoy * still(out.foreground) + (1 - decoy) * rearrange(out.background, "b c h w -> b c 1 h w")
    video = out.mask * out.foreground + (1 - out.mask) * behind
    return GeneratorOutput(video=video, foreground=out.foreground, background=out.background, mask=out.mask)


def camouflage_foreground(out: GeneratorOutput, share: float, rng: torch.Generator) -> GeneratorOutput:
    """For a random ``share`` of the clips, the foreground replaced by the clip's own background moved
    by a random offset (wrapping around the borders), the same still texture in every frame; Eq. 1
    recomposed. With ``glide_foreground`` after it, the object is the scene's own texture moving over it."""
    b, _, t, h, w = out.mask.shape
    chosen = rearrange(torch.rand(b, generator=rng) < share, "b -> b 1 1 1 1").to(out.mask.device)
    dx, dy = torch.randint(0, w, (b,), generator=rng), torch.randint(0, h, (b,), generator=rng)
    texture = translate(rearrange(out.background, "b c h w -> b c 1 h w"), dx, dy, wrap=True).expand(-1, -1, t, -1, -1)
    return GeneratorOutput.compose(torch.where(chosen, texture, out.foreground), out.background, out.mask)


@dataclass
class Geometry:
    """The geometric part of one DiffAugment draw: per-clip translation and cutout box."""

    dx: torch.Tensor | None = None  # (B,) integer pixels
    dy: torch.Tensor | None = None
    keep: torch.Tensor | None = None  # (B, 1, 1, H, W) 0 inside the cutout, 1 elsewhere

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The same translation and cutout on any (B, C, T, H, W) map (0 moves in from the border)."""
        if self.dx is not None:
            x = translate(x, self.dx, self.dy)
        if self.keep is not None:
            x = x * self.keep.to(x)
        return x


class DiffAugment:
    """``policy`` a comma-separated subset of 'color', 'translation', 'cutout' (Zhao et al.'s settings:
    brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5], translation 1/8, cutout 1/2 of the side)."""

    def __init__(self, policy: str, translation: float = 0.125, cutout: float = 0.5):
        self.policy = tuple(filter(None, policy.split(",")))
        self.translation, self.cutout = translation, cutout

    def __bool__(self) -> bool:
        return bool(self.policy)

    def draw(self, x: torch.Tensor, rng: torch.Generator) -> tuple[dict, Geometry]:
        """Random parameters for a batch (B, C, T, H, W): colour factors and the geometry."""
        b, _, _, h, w = x.shape
        colour = {}
        if "color" in self.policy:
            colour = {
                k: rearrange(torch.rand(b, generator=rng), "b -> b 1 1 1 1") for k in ("bright", "sat", "contrast")
            }
        geometry = Geometry()
        if "translation" in self.policy:
            geometry.dx, geometry.dy = random_offsets(b, w, self.translation, rng)
        if "cutout" in self.policy:
            side = int(round(self.cutout * h))
            cy = torch.randint(0, h + (1 - side % 2), (b,), generator=rng)
            cx = torch.randint(0, w + (1 - side % 2), (b,), generator=rng)
            ys, xs = rearrange(torch.arange(h), "h -> 1 h 1"), rearrange(torch.arange(w), "w -> 1 1 w")
            near_y = (ys - rearrange(cy, "b -> b 1 1")).abs() <= side // 2
            inside = near_y & ((xs - rearrange(cx, "b -> b 1 1")).abs() <= side // 2)
            geometry.keep = rearrange((~inside).float(), "b h w -> b 1 1 h w")
        return colour, geometry

    def __call__(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, Geometry]:
        """Augmented clips in [-1, 1]-ish (B, 3, T, H, W) and the geometry to apply to their targets."""
        colour, geometry = self.draw(x, rng)
        if colour:
            c = {k: v.to(x) for k, v in colour.items()}
            x = x + (c["bright"] - 0.5)
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (c["sat"] * 2) + mean
            mean = x.mean(dim=(1, 2, 3, 4), keepdim=True)
            x = (x - mean) * (c["contrast"] + 0.5) + mean
        return geometry.apply(x), geometry
