"""The CIS networks: the mask generator chi, the context encoder and the inpainter phi."""

from __future__ import annotations

import torch
from torch import nn

from vosgan.peers.cis.config import CISConfig
from vosgan.peers.common import (
    Decoder,
    Encoder,
    conv_bn,
    upsample,
)


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
