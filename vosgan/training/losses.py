"""The VOS-GAN objective as pure functions (journal paper, Eq. 2 and Eq. 3)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, reduce

from vosgan.config import LossConfig
from vosgan.models import DiscriminatorOutput, GeneratorOutput


def d_adversarial_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """Eq. 2, lines 1-2: -E[log D_adv(x)] - E[log(1 - D_adv(G(z)))], with D_adv = sigmoid(logit) (B,)."""
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def g_adversarial_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    """Eq. 3: -E[log D_adv(G(z))] (the non-saturating generator loss)."""
    return F.softplus(-fake_logit).mean()


def mask_prior_loss(mask: torch.Tensor, area: float = 0.0, binary: float = 0.0) -> torch.Tensor:
    """Priors on the mask m (B, 1, T, H, W) in [0, 1]; neither is in VOS-GAN's Eq. 3 (both off by default).

    Area: mean over frames of |mean(m_bt) - area|, each frame's mask area pulled towards ``area``
    (per frame, not per clip: a clip cannot spend its budget on a few frames and leave the rest
    empty); with ``area`` 0 it is VGAN's L1 sparsity prior ||m||_1 averaged over pixels. Binary:
    ``binary`` x mean(m (1 - m)), 0 for a mask of exact 0s and 1s, so the area is spent on a crisp
    region rather than spread thinly over the frame.
    """
    m = mask.float()
    frame_area = reduce(m, "b c t h w -> b t", "mean")
    return (frame_area - area).abs().mean() + binary * (m * (1 - m)).mean()


def mode_seeking_loss(mask: torch.Tensor, z_c: torch.Tensor, z_m: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN's mode-seeking term on masks (B, 1, T, H, W) from latents ``z_c`` (B, d), ``z_m`` (B, T, d).

    Pairs clip i of the batch's first half with clip i of its second half and returns the mean over
    pairs of 1 / (mean|m_1 - m_2| / mean|z_1 - z_2| + eps): large when different latents give the
    same mask, so minimising it spreads the masks (objects in different places, moving differently).
    """
    half = mask.shape[0] // 2
    if half == 0:
        raise ValueError("the mode-seeking term needs a batch of at least 2 clips")
    m = rearrange(mask.float(), "b 1 t h w -> b (t h w)")
    z = torch.cat([z_c, rearrange(z_m, "b t d -> b (t d)")], dim=1).float()
    d_mask = (m[:half] - m[half : 2 * half]).abs().mean(dim=1)
    d_z = (z[:half] - z[half : 2 * half]).abs().mean(dim=1)
    return (1 / (d_mask / d_z + eps)).mean()


def segmentation_loss(seg_logits: torch.Tensor, mask: torch.Tensor, balanced: bool = False) -> torch.Tensor:
    """Eq. 2, line 3: NLL2D(D_seg(G(z)), m(z)), the mean pixel-wise negative log-likelihood.

    The generator's mask m(z) (B, 1, T, H, W) in [0, 1] is the label map, binarised at 0.5 and
    detached: the discriminator learns to segment, the generator is not pulled by this term.
    ``balanced`` weighs the classes as ``weighted_segmentation_loss`` does (not in the paper).
    """
    target = (mask.detach() > 0.5).to(seg_logits.dtype)
    if balanced:
        every_frame = seg_logits.new_ones(seg_logits.shape[0], seg_logits.shape[2])
        return weighted_segmentation_loss(seg_logits, target, every_frame, balanced=True)
    return F.binary_cross_entropy_with_logits(seg_logits, target)


def weighted_segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, balanced: bool = False
) -> torch.Tensor:
    """Pixel-wise NLL (binary cross-entropy) over annotated frames only; ``weight`` is (B, T).

    ``balanced`` weighs foreground and background pixels by the other class's share in the batch
    (the class-balanced loss of OSVOS and its successors). Objects cover ~10% of the benchmark's
    pixels; with the plain NLL a segmenter trained from scratch predicts no foreground at all for
    the first few hundred steps (J 0.0 after 150 steps, 10.6 after 600, against 24.7 after 150
    with balancing: `small` preset, 84 training videos, lr 2e-4).
    """
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")  # (B, 1, T, H, W)
    pixel_weight = rearrange(weight, "b t -> b 1 t 1 1").expand_as(per_pixel)
    if balanced:
        positive = (target * pixel_weight).sum()
        total = pixel_weight.sum().clamp_min(1)
        pixel_weight = pixel_weight * torch.where(target > 0.5, 1 - positive / total, positive / total)
    return (per_pixel * pixel_weight).sum() / pixel_weight.sum().clamp_min(1e-8)


def flow_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "mse", pixels: float = 1.0) -> torch.Tensor:
    """Eq. 2, lines 4-5: ||D_opt(x) - OF(x)||^2, the squared L2 norm over the two flow channels, mean over
    pixels (``kind`` 'mse'); or ``kind`` 'epe': the L2 norm itself times ``pixels`` (the pixels per frame
    of one unit of the range, 2 x ``flow_scale``), i.e. the end-point error in pixels.

    ``pred`` and ``target`` are (B, 2, T, H, W) in the discriminator's [0, 1] range.
    """
    difference = pred.float() - target.detach().float()
    if kind == "epe":  # the small epsilon keeps the norm's gradient finite where the error is exactly 0
        return pixels * (difference.pow(2).sum(dim=1) + 1e-12).sqrt().mean()
    return difference.pow(2).sum(dim=1).mean()


def area_hinge_loss(mask: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Two-sided hinge on each clip's mask area a = mean(m): relu(low - a) + relu(a - high), mean over clips."""
    area = reduce(mask.float(), "b c t h w -> b", "mean")
    return (F.relu(low - area) + F.relu(area - high)).mean()


def binarization_loss(mask: torch.Tensor) -> torch.Tensor:
    """Bielski & Favaro's binarisation term mean(min(m, 1 - m)): 0 for a mask of exact 0s and 1s."""
    m = mask.float()
    return torch.minimum(m, 1 - m).mean()


def compactness_loss(mask: torch.Tensor, min_area: float = 0.01) -> torch.Tensor:
    """Each frame's normalised moment of inertia 2 pi E_m|p - c|^2 / a of the mask (B, 1, T, H, W), with
    coordinates p in [0, 1]^2, c the mask's centroid and a its area (share of the frame, at least
    ``min_area``): 1 for a disc, the least for any shape of that area, larger for spread-out,
    hollow or scattered masks (a frame-border outline, stripes). Mean over clips and frames."""
    m = rearrange(mask.float(), "b 1 t h w -> (b t) h w")
    h, w = m.shape[-2:]
    ys = rearrange((torch.arange(h, device=m.device) + 0.5) / h, "h -> 1 h 1")
    xs = rearrange((torch.arange(w, device=m.device) + 0.5) / w, "w -> 1 1 w")
    mass = m.sum(dim=(1, 2)).clamp_min(1e-6)
    cy = (m * ys).sum(dim=(1, 2)) / mass
    cx = (m * xs).sum(dim=(1, 2)) / mass
    spread = (m * ((ys - cy[:, None, None]) ** 2 + (xs - cx[:, None, None]) ** 2)).sum(dim=(1, 2)) / mass
    area = (mass / (h * w)).clamp_min(min_area)
    return (2 * math.pi * spread / area).mean()


def r1_penalty(real_logit: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E|grad_x logit(x)|^2 over real clips ``real`` (B, 3, T, H, W), which must require grad."""
    (grad,) = torch.autograd.grad(real_logit.float().sum(), real, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def alpha_at(epoch: int, cfg: LossConfig) -> float:
    """The flow weight alpha of Eq. 2: ``cfg.alpha`` until epoch E_alpha, then + s_alpha per epoch.

    Epochs count from 0, so with the paper's E_alpha = 2 epochs 0 and 1 use 1.0, epoch 2 uses 1.2.
    """
    if not cfg.alpha_schedule:
        return cfg.alpha
    return cfg.alpha + cfg.s_alpha * max(0, epoch - cfg.e_alpha + 1)


def _items(loss, prefix: str) -> dict[str, float]:
    """A loss dataclass's terms as floats, ``<prefix>_<term>`` (``total`` is ``<prefix>_loss``)."""
    return {
        f"{prefix}_{'loss' if f.name == 'total' else f.name}": getattr(loss, f.name).item()
        for f in dataclasses.fields(loss)
    }


@dataclass
class DiscriminatorLoss:
    """Eq. 2 and its terms (each a scalar tensor; a switched-off term is 0)."""

    total: torch.Tensor
    adversarial: torch.Tensor
    segmentation: torch.Tensor
    flow_fake: torch.Tensor
    flow_real: torch.Tensor
    r1: torch.Tensor

    def items(self) -> dict[str, float]:
        """The terms as floats, named as the trainer logs them."""
        return _items(self, "d")


def discriminator_loss(
    real: DiscriminatorOutput,
    fake: DiscriminatorOutput,
    mask: torch.Tensor,
    fake_flow_target: torch.Tensor | None,
    real_flow_target: torch.Tensor | None,
    alpha: float,
    cfg: LossConfig,
    r1: torch.Tensor | None = None,
) -> DiscriminatorLoss:
    """Eq. 2 in full: adversarial + segmentation_weight * segmentation of the generator's ``mask`` (B, 1, T, H, W) +
    alpha * flow_weight * (flow on fake + flow on real), plus r1 * R1 / 2 when ``r1`` (the penalty) is given.

    With ``cfg.flow`` off the flow targets are not needed (and may be None)."""
    zero = real.logit.new_zeros(()).float()
    if cfg.gan == "hinge":
        adversarial = F.relu(1 - real.logit.float()).mean() + F.relu(1 + fake.logit.float()).mean()
    else:
        adversarial = d_adversarial_loss(real.logit.float(), fake.logit.float())
    seg = segmentation_loss(fake.segmentation.float(), mask, cfg.balanced_segmentation) if cfg.segmentation else zero
    pixels = 2.0 * real.flow_scale
    flow_fake = flow_loss(fake.flow, fake_flow_target, cfg.flow_loss, pixels) if cfg.flow else zero
    flow_real = flow_loss(real.flow, real_flow_target, cfg.flow_loss, pixels) if cfg.flow else zero
    r1 = zero if r1 is None else r1
    total = (
        adversarial
        + cfg.segmentation_weight * seg
        + alpha * cfg.flow_weight * (flow_fake + flow_real)
        + cfg.r1 / 2 * r1
    )
    return DiscriminatorLoss(total, adversarial, seg, flow_fake, flow_real, r1)


@dataclass
class GeneratorLoss:
    """Eq. 3 and the optional terms on the mask (each a scalar tensor; a switched-off term is 0)."""

    total: torch.Tensor
    adversarial: torch.Tensor
    mask_prior: torch.Tensor
    area_hinge: torch.Tensor
    binarize: torch.Tensor
    mode_seeking: torch.Tensor
    compactness: torch.Tensor

    def items(self) -> dict[str, float]:
        return _items(self, "g")


def generator_loss(
    fake: DiscriminatorOutput, out: GeneratorOutput, z_c: torch.Tensor, z_m: torch.Tensor, cfg: LossConfig
) -> GeneratorLoss:
    """Eq. 3 (non-saturating, or hinge: -E[logit]) plus each weighted prior on the generator's mask."""
    zero = fake.logit.new_zeros(()).float()
    logit = fake.logit.float()
    adversarial = -logit.mean() if cfg.gan == "hinge" else g_adversarial_loss(logit)
    prior = mask_prior_loss(out.mask, cfg.mask_area, cfg.mask_binary) if cfg.mask_prior else zero
    hinge = area_hinge_loss(out.mask, cfg.area_min, cfg.area_max) if cfg.area_hinge else zero
    binary = binarization_loss(out.mask) if cfg.binarize else zero
    seeking = mode_seeking_loss(out.mask, z_c, z_m) if cfg.mode_seeking else zero
    compact = compactness_loss(out.mask) if cfg.compactness else zero
    total = (
        adversarial
        + cfg.mask_prior * prior
        + cfg.area_hinge * hinge
        + cfg.binarize * binary
        + cfg.mode_seeking * seeking
        + cfg.compactness * compact
    )
    return GeneratorLoss(total, adversarial, prior, hinge, binary, seeking, compact)
