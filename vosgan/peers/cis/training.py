"""Training CIS: batches of images and flow, and the trainer of the separation game (no labels)."""

from __future__ import annotations

import math

import numpy as np
import torch
from einops import rearrange, repeat
from torch import nn

from vosgan.data.flow import pairs_flow
from vosgan.peers.cis.config import METHOD, CISConfig
from vosgan.peers.cis.losses import flip_rewards, inpaint_both, normalise_flow, separation_loss
from vosgan.peers.cis.networks import Inpainter, MaskGenerator
from vosgan.peers.common import (
    PeerTrainer,
    Videos,
    images,
    step_generators,
)
from vosgan.training.optim import EMA, make_optimizer


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

    def update(self, k: int) -> dict[str, float]:
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
