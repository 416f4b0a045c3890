"""CIS: unsupervised moving-object detection by contextual information separation (Yang et al., CVPR
2019; ``shared/papers/cis-contextual-information-separation.txt``), on the kit's data and flow.

A mask generator chi (image + optical flow -> foreground probability) and an inpainter phi (image +
flow outside a region + the region -> flow inside it) play Eq. 10: the inpainter minimises, and the
generator maximises, the normalised reconstruction error of Eq. 7/9, each region's flow predicted
from the other's. No labels anywhere.

Differences from the paper, all forced by the kit's scale: flow is the kit's Farneback pipeline (the
paper used PWC-Net); the networks are the paper's layouts at 64x64 with a few channels (its 3.4 M and
1.5 M parameters shrunk about 30-fold); the paper's CRF post-processing is optional and off by default
(``vosgan segment --refine crf``, ``vosgan.segmentation.refine``). Eq. 7 is
symmetric in the region and its complement, so which side the generator calls foreground is an
accident of training; at test time the kit keeps the side that covers less of the video
(``polarity='smaller'``), a label-free rule.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange, repeat
from torch import nn

from vosgan.config import SegmentConfig
from vosgan.data.clips import resize_frames
from vosgan.data.flow import FlowCache, farneback, pairs_flow
from vosgan.models.summary import parameter_count
from vosgan.peers.common import (
    Decoder,
    Encoder,
    PeerSegmenter,
    PeerTrainer,
    Videos,
    conv_bn,
    images,
    load_peer,
    step_generators,
    upsample,
)
from vosgan.segmentation.refine import refine as refine_maps
from vosgan.training.optim import EMA, make_optimizer

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


class MaskGenerator(nn.Module):
    """chi: image (B, 3, H, W) in [-1, 1] and normalised flow (B, 2, H, W) -> foreground logits (B, 2, H, W)
    (background, foreground; the paper's final softmax)."""

    def __init__(self, cfg: CISConfig):
        super().__init__()
        w = cfg.width
        self.logit_scale = cfg.logit_scale
        self.encoder = Encoder(5, w)
        self.atrous = nn.Sequential(*[conv_bn(4 * w, 4 * w, dilation=d) for d in cfg.dilations])
        self.decoder = Decoder(4 * w, 2 * w, w, w, 2)

    def forward(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        full, half, quarter = self.encoder(torch.cat([image, flow], 1))
        return self.decoder(self.atrous(quarter), half, full)

    def probability(self, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """Foreground probability (B, 1, H, W)."""
        return (self(image, flow) * self.logit_scale).softmax(1)[:, 1:]


class Context(nn.Module):
    """``levels`` stride-2 conv layers below (B, c, h, w) features and back up, each level's features
    added on the way up: (B, c, h, w) -> (B, c, h, w) with a receptive field of the whole frame."""

    def __init__(self, c: int, levels: int):
        super().__init__()
        self.down = nn.ModuleList(conv_bn(c, c, 2) for _ in range(levels))
        self.up = nn.ModuleList(conv_bn(c, c) for _ in range(levels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.down:
            skips.append(x)
            x = down(x)
        for up, skip in zip(self.up, reversed(skips)):
            x = up(upsample(x, skip)) + skip
        return x


class Inpainter(nn.Module):
    """phi: image (B, 3, H, W), visible flow (B, 2, H, W) and the region to fill (B, 1, H, W) -> flow
    (B, 2, H, W). Two balanced encoder branches (image; masked flow + mask), as the paper's CPN variant;
    ``cfg.inpainter_levels`` deepens the joint features below 1/4 resolution (``Context``)."""

    def __init__(self, cfg: CISConfig):
        super().__init__()
        w = cfg.width
        self.image = Encoder(3, w)
        self.flow = Encoder(3, w)
        self.context = Context(8 * w, cfg.inpainter_levels)
        self.decoder = Decoder(8 * w, 4 * w, 2 * w, w, 2)

    def forward(self, image: torch.Tensor, visible: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        a, b = self.image(image), self.flow(torch.cat([visible, region], 1))
        full, half, quarter = (torch.cat(pair, 1) for pair in zip(a, b))
        return self.decoder(self.context(quarter), half, full)


def normalise_flow(flow: torch.Tensor, floor: float) -> torch.Tensor:
    """Flow (B, 2, H, W) in pixels divided by its per-sample RMS magnitude (at least ``floor`` pixels)."""
    rms = flow.pow(2).sum(1).mean((1, 2)).sqrt().clamp_min(floor)
    return flow / rms[:, None, None, None]


def separation_loss(
    flow: torch.Tensor, chi: torch.Tensor, inside: torch.Tensor, outside: torch.Tensor, epsilon: float
) -> torch.Tensor:
    """Eq. 9 over a batch: sum ||chi (u - phi(chi, (1 - chi) u, I))||^2 / (sum ||chi u||^2 + eps) plus the
    same for the complement. ``flow`` u (B, 2, H, W); ``chi`` (B, 1, H, W); ``inside`` and ``outside``
    the inpainter's flow for the region and for its complement. Sums run over the batch (the paper's
    sum over samples). The inpainter minimises it; the generator maximises it (Eq. 10); each term is
    1 when the inpainter learns nothing from the other region, 0 when it reconstructs it exactly."""
    inner = (chi * (flow - inside)).pow(2).sum() / ((chi * flow).pow(2).sum() + epsilon)
    outer = ((1 - chi) * (flow - outside)).pow(2).sum() / (((1 - chi) * flow).pow(2).sum() + epsilon)
    return inner + outer


def flip_rewards(
    flow: torch.Tensor, region: torch.Tensor, inside: torch.Tensor, outside: torch.Tensor, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """How much Eq. 9 gains from each pixel where it was drawn, to first order: for a pixel of the binary
    ``region`` (B, 1, H, W), (e - R_in u^2) / D_in, its term in the inner ratio (its squared error e when
    predicted from the outside, less the ratio R_in = N_in / D_in times its flow energy u^2); for a pixel
    outside it, the same with the outer ratio. Returns both maps (B, 1, H, W), each zero off its side."""
    u2 = flow.pow(2).sum(1, keepdim=True)
    gains = []
    for side, predicted in ((region, inside), (1 - region, outside)):
        error = (flow - predicted).pow(2).sum(1, keepdim=True)
        denominator = (side * u2).sum() + epsilon
        ratio = (side * error).sum() / denominator
        gains.append(side * (error - ratio * u2) / denominator)
    return gains[0], gains[1]


def inpaint_both(inpainter: Inpainter, image: torch.Tensor, flow: torch.Tensor, chi: torch.Tensor):
    """The inpainter's flow inside the region (from the outside) and outside it (from the inside)."""
    return inpainter(image, (1 - chi) * flow, chi), inpainter(image, chi * flow, 1 - chi)


def ideal_flow(masks: np.ndarray, limit: float, rng: np.random.Generator) -> np.ndarray:
    """Table 1's ideal conditions: per frame, one constant flow vector for the foreground (ids > 0) and an
    independent one for the background, each uniform in [-limit, limit]^2: ids (P, H, W) -> (P, H, W, 2)."""
    vectors = rng.uniform(-limit, limit, (len(masks), 2, 2)).astype(np.float32)  # (P, fore/back, xy)
    fore = rearrange(masks > 0, "p h w -> p h w 1")
    return np.where(fore, vectors[:, None, None, 0], vectors[:, None, None, 1])


def sample_batch(videos: Videos, cfg: CISConfig, rng: np.random.Generator):
    """A training batch: frames I_t (B, 3, H, W) in [-1, 1], the flow to I_{t + dT} (B, 2, H, W) pixels and,
    in ideal conditions, the frames' object ids (B, H, W) the flow was built from (else None)."""
    names = list(videos)
    first, second, masks = [], [], []
    for k in rng.integers(len(names), size=cfg.batch_size):
        frames, ids = videos[names[k]]
        t = int(rng.integers(len(frames)))
        choices = [d for d in range(-cfg.max_dt, cfg.max_dt + 1) if d and 0 <= t + d < len(frames)]
        first.append(frames[t])
        second.append(frames[t + choices[rng.integers(len(choices))]])
        masks.append(ids[t] if ids is not None else None)
    first, second = np.stack(first), np.stack(second)
    if cfg.ideal:
        if any(m is None for m in masks):
            raise ValueError(
                "the ideal-conditions experiment builds its flow from ground-truth masks; these videos have none"
            )
        masks = np.stack(masks)
        flow = ideal_flow(masks, cfg.ideal_range, rng)
    else:
        masks, flow = None, pairs_flow(first, second)
    return images(first), rearrange(torch.from_numpy(flow), "b h w c -> b c h w"), masks


class CISTrainer(PeerTrainer):
    """Alternating updates of Eq. 10 on unlabeled videos; ``step(k)`` is one inpainter and one generator update."""

    def __init__(self, cfg: CISConfig, videos: Videos, seed: int = 0, device: str | torch.device = "cpu"):
        torch.manual_seed(seed)
        self.cfg, self.videos, self.seed, self.device = cfg, videos, seed, torch.device(device)
        self.generator = MaskGenerator(cfg).to(self.device)
        self.inpainter = Inpainter(cfg).to(self.device)
        self.opt_g = make_optimizer(self.generator.parameters(), cfg)
        self.opt_d = make_optimizer(self.inpainter.parameters(), cfg, cfg.lr_inpainter)
        self.ema = EMA(self.generator, cfg.ema, average_buffers=True) if cfg.ema else None

    method = METHOD

    def networks(self):
        return self.generator, self.inpainter

    def _batch(self, rng):
        image, flow, _ = sample_batch(self.videos, self.cfg, rng)
        return image.to(self.device), normalise_flow(flow.to(self.device), self.cfg.flow_floor)

    def block(self, k: int) -> int:
        """The cell size of step ``k``'s masks: ``coarse_block`` through the warm-up, then halving every
        ``coarse_steps`` generator steps down to 1."""
        cfg = self.cfg
        if cfg.coarse_block == 1:
            return 1
        return max(1, cfg.coarse_block >> max(0, k - cfg.warmup) // cfg.coarse_steps)

    def separation(self, image, flow, chi, gen: torch.Generator, block: int = 1) -> torch.Tensor:
        """Eq. 9 for the generator's probabilities ``chi`` (B, 1, H, W), with the switches of ``CISConfig``;
        ``block`` > 1 averages chi over block x block cells first."""
        cfg = self.cfg
        epsilon = cfg.epsilon + cfg.epsilon_area * chi.numel()
        cells = nn.functional.avg_pool2d(chi, block) if block > 1 else chi  # (B, 1, H / block, W / block)
        chi = repeat(cells, "b c h w -> b c (h p) (w q)", p=block, q=block)
        if not cfg.hard_mask:
            return separation_loss(flow, chi, *inpaint_both(self.inpainter, image, flow, chi), epsilon)
        threshold = self.threshold(cells.shape, gen).to(chi.device) if cfg.sampled_mask else 0.5
        cut = (cells > threshold).float()
        region = repeat(cut, "b c h w -> b c (h p) (w q)", p=block, q=block)
        if cfg.score_gradient:
            inside, outside = inpaint_both(self.inpainter, image, flow, region)
            value = separation_loss(flow, region, inside, outside, epsilon)
            with torch.no_grad():  # the rewards, summed over each cell
                gain_in, gain_out = (
                    block**2 * nn.functional.avg_pool2d(g, block)
                    for g in flip_rewards(flow, region, inside, outside, epsilon)
                )
            p = cells.clamp(1e-6, 1 - 1e-6)
            surrogate = (gain_in * p.log() + gain_out * (1 - p).log()).sum()
            return value + surrogate - surrogate.detach()
        weights = region + chi - chi.detach()  # binary values, the soft mask's gradient (straight through)
        shown = region if cfg.direct_gradient else weights  # the mask the inpainter sees
        return separation_loss(flow, weights, *inpaint_both(self.inpainter, image, flow, shown), epsilon)

    def threshold(self, shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
        """The sampled threshold (B, 1, H, W), uniform in [0, 1] at every pixel: independent per pixel, or
        with ``threshold_cell`` a smooth field (Gaussian noise on the cells' corners, interpolated
        bilinearly, divided by its standard deviation at each pixel and passed through the normal CDF)."""
        cell = self.cfg.threshold_cell
        if cell == 1:
            return torch.rand(shape, generator=gen)
        b, c, h, w = shape
        noise = torch.randn((b, c, h // cell + 1, w // cell + 1), generator=gen)  # one more: the last corners
        field = nn.functional.interpolate(noise, size=(h + 1, w + 1), mode="bilinear", align_corners=True)
        f = torch.arange(h + 1) % cell / cell  # the position inside the cell; weights (1 - f, f) of two corners
        std = ((1 - f) ** 2 + f**2).sqrt()
        z = field / (std[:, None] * std[None, :])
        return (0.5 * (1 + torch.erf(z / math.sqrt(2))))[..., :h, :w]

    def _clip(self, net: nn.Module) -> None:
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_value_(net.parameters(), self.cfg.grad_clip)

    def step(self, k: int) -> dict[str, float]:
        cfg = self.cfg
        rng, gen = step_generators(self.seed, k)
        self.generator.train(), self.inpainter.train()
        for _ in range(cfg.inpainter_steps):
            image, flow = self._batch(rng)
            with torch.no_grad():
                chi = self.generator.probability(image, flow)
            loss_i = self.separation(image, flow, chi, gen, self.block(k))
            self.opt_d.zero_grad(set_to_none=True)
            loss_i.backward()
            self._clip(self.inpainter)
            self.opt_d.step()
        figures = {"inpainter": loss_i.item(), "mask_area": chi.mean().item()}
        if k < cfg.warmup:
            return figures
        image, flow = self._batch(rng)
        chi = self.generator.probability(image, flow)
        loss_g = -self.separation(image, flow, chi, gen, self.block(k))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self._clip(self.generator)
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.generator)
        return {**figures, "separation": -loss_g.item()}


class CISSegmenter(PeerSegmenter):
    """The trained mask generator as a video segmenter (Eq. 14): P_t is the mean of P_t(dT) over the
    dT in [-5, 5] \\ {0} with I_{t + dT} inside the video; then the polarity rule (module docstring).
    The paper's CRF is one of the kit's refinements (``vosgan.segmentation.refine``, ``--refine crf``)."""

    method, setting, needs_first_mask = METHOD, "unsupervised", False

    def __init__(
        self,
        path,
        device="cpu",
        polarity: str = "smaller",
        flow_cache: FlowCache | None = None,
    ):
        self.cfg, self.generator, self.inpainter, self.state = load_peer(
            path, METHOD, CISConfig, MaskGenerator, Inpainter, device
        )
        self.device, self.polarity, self.flow_cache = torch.device(device), polarity, flow_cache

    @property
    def parameters(self) -> int:
        """Parameters used at test time (the mask generator only, as the paper counts)."""
        return parameter_count(self.generator)

    @torch.no_grad()
    def probabilities(self, frames: np.ndarray, masks: np.ndarray | None = None, batch: int = 64) -> np.ndarray:
        """RGB uint8 (N, H, W, 3) -> foreground probability (N, S, S) at the working size. ``masks``
        (ids at the working size) replace the flow by Table 1's ideal fields when the config asks."""
        cfg, n = self.cfg, len(frames)
        small = resize_frames(frames, cfg.size)
        total, count = np.zeros((n, cfg.size, cfg.size), np.float32), np.zeros(n, np.float32)
        rng = np.random.default_rng(0)
        for dt in (d for d in range(-cfg.max_dt, cfg.max_dt + 1) if d):
            ts = [t for t in range(n) if 0 <= t + dt < n]
            if not ts:
                continue
            if cfg.ideal and masks is not None:
                flow = ideal_flow(masks[ts], cfg.ideal_range, rng)
            else:  # the flow from each frame t in ts to t + dt, through the kit's flow cache when given
                flow = self.flow_cache(small, dt) if self.flow_cache else farneback(small, step=dt)
                flow = flow[: len(ts)]  # at dT = 1 the kit's flow repeats the last pair for the last frame
            for i in range(0, len(ts), batch):
                part = ts[i : i + batch]
                image = rearrange(torch.from_numpy(small[part]).float().div(127.5).sub(1), "b h w c -> b c h w")
                u = normalise_flow(
                    rearrange(torch.from_numpy(flow[i : i + batch]), "b h w c -> b c h w"), cfg.flow_floor
                )
                p = self.generator.probability(image.to(self.device), u.to(self.device)).cpu()[:, 0].numpy()
                total[part] += p
                count[part] += 1
        p = total / np.maximum(count, 1)[:, None, None]
        if self.polarity == "smaller" and p.mean() > 0.5:
            p = 1 - p
        return p


def ideal_conditions(path, split: str = "test", device="cpu", refine: str = "none") -> dict[str, float]:
    """Table 1 on the embedded benchmark: a CIS checkpoint trained with ``ideal=True`` segments ``split``
    with each frame's flow replaced by independent constant fore/background fields; binary J and F of the
    kit's evaluation (frames 1..N-2). Near-perfect J is what the paper reports (88.5-92.5), after its CRF
    (``refine='crf'``)."""
    from vosgan.metrics.evaluate import evaluate_arrays
    from vosgan.peers.common import training_videos

    segmenter = CISSegmenter(path, device)
    settings = SegmentConfig(refine=refine)
    if not segmenter.cfg.ideal:
        raise ValueError(f"{path} was not trained in ideal conditions (train it with --ideal)")
    truth, pred = {}, {}
    for name, (frames, ids) in training_videos("synthetic", split, 64).items():
        small = resize_frames(ids, segmenter.cfg.size, nearest=True)
        probability = refine_maps(segmenter.probabilities(frames, small), frames, settings)
        truth[name], pred[name] = ids, (probability > 0.5).astype(np.uint8)
    g = evaluate_arrays(truth, pred, binary=True)["global"]
    return {"J": g["J-Mean"], "F": g["F-Mean"]}
