"""FaSTGAN: semi-supervised video object segmentation with spatial and temporal critics (Caelles et
al.; ``shared/papers/fastgan-spatio-temporal-gans.md``), on the kit's data.

A regressor phi(X_t, M_ref, Y_{t-1}) segments one frame at a time from the current frame, a reference
frame with its mask, and its own previous estimate; a "temporal skip connection" feeds it the last
decoder features of the previous frame (reduced to 1/8 of the channels by a 3x3 convolution). It is
trained on windows of K frames, its own estimates fed forward (back-propagation through time), with
the balanced cross-entropy of Eq. 2 and two WGAN-GP critics (Eq. 3-5): a PatchGAN spatial critic D_S
on X_t * Y_t and a temporal critic D_T on the K masked frames together. At test time only phi runs,
propagating the first frame's annotation.

Differences from the paper, forced by the kit's scale: phi's encoder is the kit's five-layer encoder
trained from scratch (the paper's is an ImageNet ResNet-50 pre-trained on YouTube-VOS); the
CE-only pre-training is on the same training split; the critics' patch maps are 1/8 of the input
(the paper's 1/64 of 512 pixels would be one patch at 64x64); all objects of a video are one
foreground (the kit scores binary masks); no flipping/scaling/rotation augmentation and no Gaussian
noise on the ground truth (the paper's statistics for it are not given precisely). Kept: K = 4,
lambda_CE = 100, lambda_S = lambda_T = 1, lambda_gp = 10, five critic updates per regressor update,
Adam (beta1 0.5), a random reference frame per window, ground-truth pixels overwritten by estimates
within 0.25 of them in the critics' real samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange
from torch import nn

from vosgan.data.clips import resize_frames
from vosgan.data.io import DataError
from vosgan.models.summary import parameter_count
from vosgan.peers.common import (
    Decoder,
    Encoder,
    PeerSegmenter,
    PeerTrainer,
    Videos,
    images,
    load_peer,
    step_generators,
)
from vosgan.training.optim import make_optimizer

METHOD = "fastgan"
# Table 1's ablation: which critics are on.
ABLATIONS = {"ce": (False, False), "+spatial": (True, False), "+temporal": (False, True), "both": (True, True)}


@dataclass(frozen=True)
class FaSTGANConfig:
    name: str = "small"
    size: int = 64
    width: int = 16
    window: int = 4  # K
    gcn_kernel: int = 7  # the global convolution's k x 1 and 1 x k kernels
    spatial: bool = True  # D_S on
    temporal: bool = True  # D_T on
    lambda_ce: float = 100.0
    lambda_s: float = 1.0
    lambda_t: float = 1.0
    lambda_gp: float = 10.0
    critic_steps: int = 5  # critic updates per regressor update
    overwrite: float = 0.25  # real masks take the estimate where |estimate - truth| is below this
    batch_size: int = 8
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    pretrain: int = 1500  # CE-only steps before the critics join (all steps are CE-only without critics)
    iterations: int = 2000

    @property
    def critics(self) -> bool:
        return self.spatial or self.temporal

    @property
    def ablation(self) -> str:
        return next(k for k, v in ABLATIONS.items() if v == (self.spatial, self.temporal))


PRESETS = {
    "small": FaSTGANConfig(),
    "tiny": FaSTGANConfig(
        name="tiny", size=32, width=8, window=3, gcn_kernel=5, batch_size=4, pretrain=20, iterations=30
    ),
}


def fastgan_config(preset: str = "small", ablation: str = "both", **overrides) -> FaSTGANConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown FaSTGAN preset {preset!r}; choose one of {sorted(PRESETS)}")
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown FaSTGAN ablation {ablation!r}; choose one of {sorted(ABLATIONS)}")
    spatial, temporal = ABLATIONS[ablation]
    changes = {"spatial": spatial, "temporal": temporal, **{k: v for k, v in overrides.items() if v is not None}}
    return dataclasses.replace(PRESETS[preset], **changes)


class GlobalConv(nn.Module):
    """Global convolution (Peng et al. 2017): (k x 1, 1 x k) + (1 x k, k x 1); (B, c_in, h, w) -> (B, c_out, h, w)."""

    def __init__(self, c_in: int, c_out: int, k: int):
        super().__init__()
        p = k // 2
        self.a = nn.Sequential(
            nn.Conv2d(c_in, c_out, (k, 1), padding=(p, 0)), nn.Conv2d(c_out, c_out, (1, k), padding=(0, p))
        )
        self.b = nn.Sequential(
            nn.Conv2d(c_in, c_out, (1, k), padding=(0, p)), nn.Conv2d(c_out, c_out, (k, 1), padding=(p, 0))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.a(x) + self.b(x))


class Regressor(nn.Module):
    """phi: one frame at a time. ``step(frame, reference, previous, memory)`` with frame (B, 3, H, W) in
    [-1, 1], reference (B, 4, H, W) (RGB + mask), previous estimate (B, 1, H, W) and the previous
    frame's last decoder features (B, w, H, W) or None -> (logits (B, 1, H, W), features (B, w, H, W))."""

    def __init__(self, cfg: FaSTGANConfig):
        super().__init__()
        w = cfg.width
        self.encoder = Encoder(4, w)  # phi_E, shared by <X_t, Y_{t-1}> and M_ref
        self.matching = GlobalConv(8 * w, 4 * w, cfg.gcn_kernel)
        self.decoder = Decoder(4 * w, 2 * w, w, w, 1)
        self.memory = nn.Conv2d(w, max(1, w // 8), 3, 1, 1)  # the temporal skip connection, 1/8 of the channels
        self.head = nn.Conv2d(w + max(1, w // 8), 1, 3, 1, 1)

    def reference_features(self, reference: torch.Tensor) -> torch.Tensor:
        return self.encoder(reference)[-1]

    def step(self, frame, reference_features, previous, memory=None):
        full, half, quarter = self.encoder(torch.cat([frame, previous * 2 - 1], 1))
        h = self.decoder.features(self.matching(torch.cat([quarter, reference_features], 1)), half, full)
        skip = self.memory(memory if memory is not None else torch.zeros_like(h))
        return self.head(torch.cat([h, skip], 1)), h

    def rollout(self, frames: torch.Tensor, reference: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """Frames (B, K, 3, H, W), reference (B, 4, H, W), the mask before the window (B, 1, H, W) ->
        estimates (B, K, 1, H, W) in [0, 1], each fed to the next step."""
        ref, previous, memory, out = self.reference_features(reference), first, None, []
        for k in range(frames.shape[1]):
            logits, memory = self.step(frames[:, k], ref, previous, memory)
            previous = torch.sigmoid(logits)
            out.append(previous)
        return torch.stack(out, 1)


class PatchCritic(nn.Sequential):
    """PatchGAN critic without normalisation (WGAN-GP): (B, c_in, H, W) -> patch scores (B, 1, H/8, W/8)."""

    def __init__(self, c_in: int, w: int):
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        super().__init__(
            nn.Conv2d(c_in, w, 4, 2, 1),
            act(),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            act(),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1),
            act(),
            nn.Conv2d(4 * w, 1, 3, 1, 1),
        )


class Critics(nn.Module):
    """D_S on one masked frame (B, 3, H, W); D_T on K masked frames stacked on channels (B, 3K, H, W)."""

    def __init__(self, cfg: FaSTGANConfig):
        super().__init__()
        self.spatial = PatchCritic(3, cfg.width)
        self.temporal = PatchCritic(3 * cfg.window, cfg.width)


def balanced_bce(probability: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 2 per frame, averaged: -[beta Y log p + (1 - beta)(1 - Y) log(1 - p)], beta the share of
    background pixels of that ground-truth frame; (..., 1, H, W) estimates and binary targets. The
    per-pixel terms are averaged (the paper sums them; lambda_CE absorbs the constant)."""
    beta = 1 - target.mean((-1, -2, -3), keepdim=True)
    p = probability.clamp(1e-6, 1 - 1e-6)
    terms = beta * target * torch.log(p) + (1 - beta) * (1 - target) * torch.log(1 - p)
    return -terms.mean()


def masked(frames: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """X * Y: frames (..., 3, H, W) in [-1, 1] mapped to [0, 1] and multiplied by masks (..., 1, H, W)."""
    return (frames + 1) / 2 * masks


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator):
    """WGAN-GP: E[(||grad D(x~)||_2 - 1)^2] on random interpolations x~ of real and fake (B, C, H, W)."""
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator).to(real.device)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def critic_inputs(frames: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, 3, H, W) frames and (B, K, 1, H, W) masks -> D_S's (B K, 3, H, W) and D_T's (B, 3K, H, W)."""
    x = masked(frames, masks)
    return rearrange(x, "b k c h w -> (b k) c h w"), rearrange(x, "b k c h w -> b (k c) h w")


def sample_windows(videos: Videos, cfg: FaSTGANConfig, rng: np.random.Generator):
    """Frames (B, K, 3, H, W), truth (B, K, 1, H, W), reference (B, 4, H, W) and the truth before the
    window (B, 1, H, W); the reference frame is drawn anywhere in the video (Sect. 5)."""
    names = list(videos)
    frames, truth, reference, first = [], [], [], []
    for k in rng.integers(len(names), size=cfg.batch_size):
        x, ids = videos[names[k]]
        if len(x) < cfg.window + 1:
            raise DataError(f"{names[k]!r} has {len(x)} frames; FaSTGAN's windows need K + 1 = {cfg.window + 1}")
        fg = (ids > 0).astype(np.float32)
        t0, r = int(rng.integers(1, len(x) - cfg.window + 1)), int(rng.integers(len(x)))
        frames.append(images(x[t0 : t0 + cfg.window]))
        truth.append(torch.from_numpy(fg[t0 : t0 + cfg.window, None]))
        reference.append(torch.cat([images(x[r : r + 1])[0], torch.from_numpy(fg[r][None]) * 2 - 1]))
        first.append(torch.from_numpy(fg[t0 - 1][None]))
    return torch.stack(frames), torch.stack(truth), torch.stack(reference), torch.stack(first)


class FaSTGANTrainer(PeerTrainer):
    """``step(k)``: CE-only before ``cfg.pretrain`` (or always, without critics); after it,
    ``cfg.critic_steps`` critic updates on fresh windows, then one regressor update on Eq. 5."""

    def __init__(self, cfg: FaSTGANConfig, videos: Videos, seed: int = 0, device: str | torch.device = "cpu"):
        missing = [n for n, (_, m) in videos.items() if m is None]
        if missing:
            raise DataError(
                f"FaSTGAN trains on ground-truth masks; {len(missing)} video(s) have none, e.g. {missing[0]!r}"
            )
        torch.manual_seed(seed)
        self.cfg, self.videos, self.seed, self.device = cfg, videos, seed, torch.device(device)
        self.regressor = Regressor(cfg).to(self.device)
        self.critics = Critics(cfg).to(self.device)
        self.opt_g = make_optimizer(self.regressor.parameters(), cfg)
        self.opt_d = make_optimizer(self.critics.parameters(), cfg)

    method = METHOD

    def networks(self):
        return self.regressor, self.critics

    def labels(self) -> str:
        return f"all masks of {len(self.videos)} training videos"

    def _window(self, rng):
        return [x.to(self.device) for x in sample_windows(self.videos, self.cfg, rng)]

    def _critic_step(self, rng, generator) -> float:
        cfg = self.cfg
        frames, truth, reference, first = self._window(rng)
        with torch.no_grad():
            estimate = self.regressor.rollout(frames, reference, first)
        real = torch.where((estimate - truth).abs() < cfg.overwrite, estimate, truth)
        loss = torch.zeros((), device=self.device)
        pairs = zip(critic_inputs(frames, real), critic_inputs(frames, estimate))
        for on, critic, weight, (r, f) in zip(
            (cfg.spatial, cfg.temporal),
            (self.critics.spatial, self.critics.temporal),
            (cfg.lambda_s, cfg.lambda_t),
            pairs,
        ):
            if on:  # minimise -L_S (Eq. 3) / -L_T (Eq. 4)
                wgan = critic(f).mean() - critic(r).mean()
                loss = loss + weight * (wgan + cfg.lambda_gp * gradient_penalty(critic, r, f, generator))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss.item()

    def update(self, k: int) -> dict[str, float]:
        cfg = self.cfg
        rng, generator = step_generators(self.seed, k)
        adversarial = cfg.critics and k >= cfg.pretrain
        self.regressor.train(), self.critics.train()
        figures = {}
        if adversarial:
            figures["critic"] = float(np.mean([self._critic_step(rng, generator) for _ in range(cfg.critic_steps)]))
        frames, truth, reference, first = self._window(rng)
        estimate = self.regressor.rollout(frames, reference, first)
        ce = balanced_bce(estimate, truth)
        loss = cfg.lambda_ce * ce
        if adversarial:
            spatial, temporal = critic_inputs(frames, estimate)
            if cfg.spatial:
                loss = loss - cfg.lambda_s * self.critics.spatial(spatial).mean()
            if cfg.temporal:
                loss = loss - cfg.lambda_t * self.critics.temporal(temporal).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        iou = ((estimate > 0.5) & (truth > 0.5)).sum() / ((estimate > 0.5) | (truth > 0.5)).sum().clamp_min(1)
        return {"ce": ce.item(), "loss": loss.item(), "train_iou": iou.item(), **figures}


class FaSTGANSegmenter(PeerSegmenter):
    """The trained regressor propagating a first-frame annotation through a video."""

    method, setting, needs_first_mask = METHOD, "semi-supervised", True

    def __init__(self, path, device="cpu"):
        self.cfg, self.regressor, self.critics, self.state = load_peer(
            path, METHOD, FaSTGANConfig, Regressor, Critics, device
        )
        self.device = torch.device(device)

    @property
    def parameters(self) -> int:
        """Parameters used at test time (the regressor; the critics are discarded)."""
        return parameter_count(self.regressor)

    @torch.no_grad()
    def probabilities(self, frames: np.ndarray, first_mask: np.ndarray | None = None) -> np.ndarray:
        """RGB uint8 (N, H, W, 3) and the first frame's ids (H, W) -> foreground probability (N, S, S) at
        the working size (``vosgan.segmentation.refine`` brings it to the video's)."""
        if first_mask is None:
            raise DataError("FaSTGAN is semi-supervised: it needs the first frame's annotation")
        cfg = self.cfg
        x = images(resize_frames(frames, cfg.size)).to(self.device)
        fg = torch.from_numpy(resize_frames((first_mask > 0).astype(np.uint8)[None], cfg.size, nearest=True)).float()
        fg = fg.to(self.device)[None]  # (1, 1, S, S)
        reference = self.regressor.reference_features(torch.cat([x[:1], fg * 2 - 1], 1))
        out, previous, memory = [fg[0]], fg, None
        for t in range(1, len(x)):
            logits, memory = self.regressor.step(x[t : t + 1], reference, previous, memory)
            previous = torch.sigmoid(logits)
            out.append(previous[0])
        return torch.stack(out).cpu()[:, 0].clamp(0, 1).numpy()
