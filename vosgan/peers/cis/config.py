"""The CIS configuration and its presets (the paper's settings, shrunk to the kit's scale)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

METHOD = "cis"


@dataclass(frozen=True)
class CISConfig:
    """Widths, the paper's dT range and the training settings (Adam, as the kit's optimizer factory)."""

    name: str = "small"
    size: int = 64  # working resolution (square)
    width: int = 16  # channels of the first layer; x2 and x4 at 1/2 and 1/4 resolution
    dilations: tuple[int, ...] = (2, 4, 8, 16)  # the atrous stack after the generator's encoder
    max_dt: int = 5  # flow between I_t and I_{t + dT}, dT uniform in [-max_dt, max_dt] \ {0} (Sect. 4.1)
    epsilon: float = 1e-2  # added to Eq. 7's denominators (normalised flow units)
    # Not in the paper (0 in every preset): more added to the denominators, as a fraction of the batch's
    # pixels (each of unit flow energy after normalisation), so a region of a few hard pixels (an object's
    # outline) cannot reach a high ratio. The CIS authors' code uses a large epsilon for this (75 on
    # per-sample sums, about 2 % of an image's flow energy; github.com/antonilo/unsupervised_detection).
    epsilon_area: float = 0.0
    flow_floor: float = 0.25  # pixels: the flow is divided by max(its RMS, this) per sample
    batch_size: int = 16
    lr: float = 1e-4  # the mask generator's
    lr_inpainter: float = 1e-3  # the inpainter learns faster, so the generator plays against a good one
    # Not in the paper (off in every preset): the inpainter sees and the loss weighs the binarised mask, the
    # generator's gradient passing straight through the threshold (Bengio et al. 2013), so a soft mask
    # cannot leak the region's flow to the inpainter as (1 - chi) u.
    hard_mask: bool = False
    # Not in the paper (off in every preset; need ``hard_mask``): ``sampled_mask`` binarises against a uniform
    # threshold per pixel (a Bernoulli sample of chi, straight-through), so only confident masks separate
    # reliably; ``direct_gradient`` lets the generator's gradient through Eq. 9's region weights only, the
    # inpainter seeing the detached binary mask: no gradient asks for masks that fool the inpainter's
    # inputs, and a pixel leaves its side when its flow is predicted from the other side better than that
    # side's average (docs/peers.md, measured).
    sampled_mask: bool = False
    direct_gradient: bool = False
    # Not in the paper (off in every preset; needs ``sampled_mask``): the generator's gradient as a
    # score-function estimator (REINFORCE, Williams 1992) with a local reward per pixel: the change of
    # Eq. 9 if that pixel alone changed sides (``flip_rewards``), times the gradient of the log-probability of
    # the side it was drawn on. Its expectation is the gain of moving a pixel, so chi goes to 0 or 1;
    # the straight-through gradient's expectation, chi g_in - (1 - chi) g_out, is zero at chi between
    # (measured: ~0.5-0.75 inside objects). The inpainter sees the detached binary mask. Measured
    # (docs/peers.md): from scratch it gives rings; after the direct gradient filled the objects, with
    # ``threshold_cell`` = size, it takes the ideal-conditions check from test J 69.1 to 76.5 (77.1 with ``ema``).
    score_gradient: bool = False
    # Not in the paper (1 and 0 in every preset): coarse to fine. Eq. 9 sees chi averaged over
    # ``coarse_block`` x ``coarse_block`` cells (a sampled threshold per cell), the cell halving every
    # ``coarse_steps`` generator steps down to single pixels. A coarse region cannot be an object's outline, the
    # local optimum that pixel-wise moves do not leave (an inside pixel joining alone is given away by
    # the visible inside around it). Measured: objects fill at 4-2 px cells, the outlines return at 1 px.
    coarse_block: int = 1
    coarse_steps: int = 0
    # Not in the paper (1 in every preset; needs ``sampled_mask``): the per-pixel threshold replaced by a
    # smooth random field, still uniform at each pixel but correlated over cells of ``threshold_cell``
    # pixels (``CISTrainer.threshold``), while chi keeps its pixels. Where chi is unsure the region comes
    # in blobs instead of a porous scatter, so an object's inside is hidden with its neighbours rather
    # than given away by them. (A first version, uniform noise interpolated bilinearly, was not uniform
    # per pixel: thresholds bunched near 0.5, and chi ~0.6 already hid an object; docs/peers.md.)
    threshold_cell: int = 1
    # Not in the paper (1 and 0 in every preset), both from the CIS authors' code: the generator's logits
    # multiplied by ``logit_scale`` before the softmax (they divide by 10: slower saturation), and every
    # gradient entry of both networks clipped to [-grad_clip, grad_clip] (they use 0.2; 0 is off).
    logit_scale: float = 1.0
    grad_clip: float = 0.0
    inpainter_steps: int = 1  # inpainter updates per generator update (each on its own batch)
    # Not in the paper (0 in every preset): the decay of an exponential moving average of the mask
    # generator's weights and BatchNorm statistics, the network a checkpoint is evaluated and exported with
    # (Yazici et al. 2019: averaged GAN generators are steadier; the kit's ``train.ema`` for VOS-GAN).
    ema: float = 0.0
    # Not in the presets (0): stride-2 levels added below the inpainter's 1/4-resolution features, so its
    # context spans the frame as the paper's CPN inpainter's does (its encoder reaches 1/64); the presets'
    # shrunk inpainter sees about 20 pixels around a pixel (measured: the wider context did not help).
    inpainter_levels: int = 0
    warmup: int = 200  # inpainter-only steps first (Fig. 3: the generator learns against a trained inpainter)
    beta1: float = 0.5
    beta2: float = 0.999
    iterations: int = 3000
    ideal: bool = False  # Table 1: the flow replaced by independent constant fields on fore/background
    ideal_range: float = 4.0  # pixels: those constant vectors are uniform in [-r, r]^2

    def __post_init__(self):
        object.__setattr__(self, "dilations", tuple(self.dilations))
        if self.size % 4:
            raise ValueError(f"CIS works at a size divisible by 4, got {self.size}")
        if self.inpainter_levels < 0 or self.size >> (2 + self.inpainter_levels) < 1:
            raise ValueError(f"inpainter_levels must be in [0, log2(size / 4)], got {self.inpainter_levels}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema is a decay in [0, 1) (0: off), got {self.ema}")
        if self.logit_scale <= 0 or self.grad_clip < 0:
            raise ValueError(f"logit_scale must be > 0 and grad_clip >= 0, got {self.logit_scale}, {self.grad_clip}")
        if (self.sampled_mask or self.direct_gradient or self.score_gradient) and not self.hard_mask:
            raise ValueError("sampled_mask, direct_gradient and score_gradient act on binary masks: set hard_mask too")
        if self.score_gradient and (self.direct_gradient or not self.sampled_mask):
            raise ValueError("score_gradient needs sampled_mask and replaces direct_gradient: set one of the two")
        if self.threshold_cell < 1 or self.size % self.threshold_cell:
            raise ValueError(f"threshold_cell must divide size {self.size}, got {self.threshold_cell}")
        if self.threshold_cell > 1 and not self.sampled_mask:
            raise ValueError("threshold_cell shapes the sampled threshold: set sampled_mask too")
        b = self.coarse_block
        if b < 1 or b & (b - 1) or self.size % b or (b > 1 and self.coarse_steps < 1):
            raise ValueError(
                f"coarse_block must be a power of two dividing size {self.size} (got {b}), with coarse_steps >= 1"
            )


PRESETS = {
    "small": CISConfig(),
    "tiny": CISConfig(name="tiny", size=32, width=8, dilations=(2, 4), batch_size=8, iterations=200),
}


def cis_config(preset: str = "small", **overrides) -> CISConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown CIS preset {preset!r}; choose one of {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})
