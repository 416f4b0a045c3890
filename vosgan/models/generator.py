"""The VOS-GAN generator (Table 1, Fig. 2, Eq. 1).

Two streams: the background stream maps ``z_c`` to one image ``b(z_c)``; the foreground stream
summarises the motion trajectory ``z_m`` with an LSTM, decodes it with 3D transposed
convolutions, conditions on the background stream's features at quarter resolution, and ends in
two heads, the foreground ``f`` and the mask ``m``. The video is ``m * f + (1 - m) * b`` (Eq. 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from vosgan.config import VOSGANConfig
from vosgan.models.blocks import ConvRow, init_weights, residual_layer


@dataclass
class GeneratorOutput:
    """All four products of the generator; images in [-1, 1], the mask in [0, 1]."""

    video: torch.Tensor  # (B, 3, T, H, W), Eq. 1 composite
    foreground: torch.Tensor  # (B, 3, T, H, W), f(z_c, z_m)
    background: torch.Tensor  # (B, 3, H, W), b(z_c)
    mask: torch.Tensor  # (B, 1, T, H, W), m(z_c, z_m)

    @classmethod
    def compose(cls, foreground: torch.Tensor, background: torch.Tensor, mask: torch.Tensor) -> GeneratorOutput:
        """Eq. 1: the video m * f + (1 - m) * b, the still background repeated over time."""
        video = mask * foreground + (1 - mask) * rearrange(background, "b c h w -> b c 1 h w")
        return cls(video=video, foreground=foreground, background=background, mask=mask)


def channels_at(cfg: VOSGANConfig, resolution: int) -> int:
    """Generator width at a spatial resolution: ngf at H/2, doubling at each halving (512 at 4x4 in the paper)."""
    return cfg.generator.ngf * (cfg.size // 2) // resolution


class Generator(nn.Module):
    """``forward(z_c (B, d), z_m (B, T, d)) -> GeneratorOutput``."""

    def __init__(self, cfg: VOSGANConfig):
        super().__init__()
        self.cfg = cfg
        size, d = cfg.size, cfg.latent.dim
        ch = lambda r: channels_at(cfg, r)  # noqa: E731
        quarter = size // 4
        # Every row that doubles its input (stride 2, or the 3-stride row of Table 1 that doubles
        # (2, 4, 4) to (4, 8, 8)) is a transposed convolution in the paper, or upsampling + convolution.
        resize = cfg.generator.upsampling == "resize"
        up2d, up3d = ("up2d", "up3d") if resize else ("convT2d", "convT3d")

        # Background stream: 1x1 -> 4x4 -> ... -> size, 2D transposed convolutions.
        rows = [ConvRow("convT2d", d, ch(4), 4, 1, 0)]
        r = 4
        while r < size // 2:
            rows.append(ConvRow(up2d, ch(r), ch(2 * r), 4, 2, 1))
            r *= 2
        rows.append(ConvRow(up2d, ch(r), 3, 4, 2, 1, bn=False, act="tanh"))
        self.background_stream = nn.ModuleList(rows)
        # Index of the row whose output is at quarter resolution: the "third layer" in the paper.
        self.condition_row = next(i for i in range(len(rows)) if 4 * 2**i == quarter)

        # Motion encoder: the LSTM's final hidden state summarises the trajectory (RNN(z_M), 100x1x1).
        g = cfg.generator
        self.motion_encoder = nn.LSTM(d, g.motion_hidden, batch_first=True) if g.motion_encoder == "lstm" else None

        # Motion features: (1,1,1) -> (2,4,4) -> (4,8,8) -> ... -> (T/4, H/4, W/4).
        rows = [
            ConvRow("convT3d", g.motion_hidden, ch(4), (2, 4, 4), 1, 0),
            # Table 1: kernel 3, stride 3, padding 1x2x2 in (T, H, W) gives (4, 8, 8) from (2, 4, 4).
            ConvRow(up3d, ch(4), ch(8), 3, 3, (1, 2, 2)),
        ]
        r = 8
        while r < quarter:
            rows.append(ConvRow(up3d, ch(r), ch(2 * r), 4, 2, 1))
            r *= 2
        self.motion_features = nn.Sequential(*rows)

        # Foreground features: 1x1x1 fusion of [motion, background] then three residual layers (the
        # last without batch norm, as Table 1 lists), then up to half resolution.
        c = ch(quarter)
        self.foreground_features = nn.Sequential(
            ConvRow("conv3d", 2 * c, c, 1, 1, 0, bn=False, act=None),
            *residual_layer(c),
            *residual_layer(c),
            *residual_layer(c, bn=False),
            ConvRow(up3d, c, ch(size // 2), 4, 2, 1),
        )
        self.foreground_head = ConvRow(up3d, ch(size // 2), 3, 4, 2, 1, bn=False, act="tanh")
        self.mask_head = ConvRow(up3d, ch(size // 2), 1, 4, 2, 1, bn=False, act="sigmoid")
        init_weights(self)
        nn.init.constant_(self.mask_head[-2].bias, g.mask_bias)
        self.motion_layer = MotionLayer(cfg) if g.motion_layer != "none" else None

    def encode_motion(self, z_m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summarise the trajectory ``z_m`` (B, T, d): one vector (B, hidden) and the encoder's state at
        each frame (B, T, hidden) (without an LSTM: the mean, and the trajectory itself)."""
        if self.motion_encoder is None:
            return z_m.mean(dim=1), z_m
        states, (h_n, _) = self.motion_encoder(z_m)
        return h_n[-1], states

    def forward(self, z_c: torch.Tensor, z_m: torch.Tensor) -> GeneratorOutput:
        # 1. Background stream, keeping the quarter-resolution features for conditioning.
        x = rearrange(z_c, "b d -> b d 1 1")
        for i, row in enumerate(self.background_stream):
            x = row(x)
            if i == self.condition_row:
                condition = x
        background = x

        # 2. Motion features from the trajectory summary.
        summary, states = self.encode_motion(z_m)
        motion = self.motion_features(rearrange(summary, "b c -> b c 1 1 1"))

        # 3. Condition on content: background features replicated over time, concatenated on channels.
        condition = repeat(condition, "b c h w -> b c t h w", t=motion.shape[2])
        features = self.foreground_features(torch.cat([motion, condition], dim=1))

        # 4. Heads and the composition of Eq. 1.
        foreground = self.foreground_head(features)
        mask = self.mask_head(features)
        if self.motion_layer is not None:  # not in the paper: z_M moves the object (MotionLayer)
            foreground, mask = self.motion_layer(foreground, mask, summary, states)
        return GeneratorOutput.compose(foreground, background, mask)


def translate_frames(x: torch.Tensor, offsets: torch.Tensor, padding: str) -> torch.Tensor:
    """Move frame t of each clip ``x`` (B, C, T, H, W) by ``offsets`` (B, T, 2) pixels (x right, y down),
    bilinearly (differentiable in the offsets); ``padding`` 'zeros' or 'border' fills what comes in."""
    b, c, t, h, w = x.shape
    shift = offsets.float() * offsets.new_tensor([2.0 / w, 2.0 / h]).float()  # pixels -> [-1, 1] units
    theta = torch.zeros(b * t, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = -rearrange(shift, "b t xy -> (b t) xy")  # the output at p samples the input at p - shift
    frames = rearrange(x, "b c t h w -> (b t) c h w").float()
    grid = F.affine_grid(theta, list(frames.shape), align_corners=False)
    moved = F.grid_sample(frames, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    return rearrange(moved.to(x.dtype), "(b t) c h w -> b c t h w", b=b)


class MotionLayer(nn.Module):
    """Not in the paper: the trajectory's own motion. A velocity (pixels per frame, each axis within
    +-``motion_speed`` x size by a tanh) per clip from the motion summary ('velocity') or per frame from
    the LSTM's states ('steps'); positions are their running sum, zero at the middle frame; foreground
    and mask (B, C, T, H, W) move together. With ``sprite`` both are first averaged over time."""

    def __init__(self, cfg: VOSGANConfig):
        super().__init__()
        g = cfg.generator
        self.per_frame, self.sprite = g.motion_layer == "steps", g.sprite
        self.top_speed = g.motion_speed * cfg.size
        width = g.motion_hidden  # the summary's size (the latent's, without an LSTM)
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.velocity = nn.Linear(width, 2)
        # unit-variance pre-activations at the start: speeds spread over the tanh's range
        nn.init.normal_(self.velocity.weight, std=width**-0.5)
        nn.init.zeros_(self.velocity.bias)

    def offsets(self, summary: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Per-frame offsets (B, T, 2) in pixels from the summary (B, hidden) and states (B, T, hidden)."""
        frames = states.shape[1]
        source = states if self.per_frame else repeat(summary, "b c -> b t c", t=frames)
        velocity = self.top_speed * torch.tanh(self.velocity(self.norm(source.float())))
        position = velocity.cumsum(dim=1)
        return position - position.mean(dim=1, keepdim=True)

    def forward(
        self, foreground: torch.Tensor, mask: torch.Tensor, summary: torch.Tensor, states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.sprite:
            foreground, mask = (x.mean(dim=2, keepdim=True).expand_as(x) for x in (foreground, mask))
        offsets = self.offsets(summary, states)
        return translate_frames(foreground, offsets, "border"), translate_frames(mask, offsets, "zeros")
