"""The VOS-GAN discriminator (Table 2, Fig. 3).

A shared 3D-convolutional encoder feeds two streams: the discrimination stream (real/fake) and
the motion stream, 3D transposed convolutions back to full resolution with three channels per
frame, one segmentation map and two optical-flow maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vosgan.config import VOSGANConfig
from vosgan.models.blocks import ConvRow, init_weights, residual_layer


@dataclass
class DiscriminatorOutput:
    """D_adv, D_seg and D_opt of the paper, with their conversions (the one place that knows them)."""

    logit: torch.Tensor | None  # (B,), real-vs-fake logit; None from ``Discriminator.dense``
    segmentation: torch.Tensor  # (B, 1, T, H, W), foreground logits; sigmoid gives D_seg(x)
    flow: torch.Tensor  # (B, 2, T, H, W), D_opt(x) in [0, 1] (sigmoid), see vosgan.data.flow for the scaling
    flow_scale: float = 1.0  # pixels per frame (at the training size) at the sigmoid's edge

    @property
    def real_score(self) -> torch.Tensor:
        """D_adv(x) (B,): the probability that each clip is real."""
        return torch.sigmoid(self.logit.float())

    @property
    def probability(self) -> torch.Tensor:
        """D_seg(x) (B, 1, T, H, W): the foreground probability."""
        return torch.sigmoid(self.segmentation.float())

    @property
    def flow_pixels(self) -> torch.Tensor:
        """D_opt(x) in pixels per frame (B, 2, T, H, W) (x then y), at the size the network was trained
        at; the inverse of the flow targets' mapping (``vosgan.data.flow.flow_to_target``)."""
        return (self.flow.float() - 0.5) * 2.0 * self.flow_scale

    def cpu(self) -> DiscriminatorOutput:
        """Every tensor as float32 on the CPU (for plots and numpy)."""
        move = lambda t: None if t is None else t.detach().float().cpu()  # noqa: E731
        return DiscriminatorOutput(move(self.logit), move(self.segmentation), move(self.flow), self.flow_scale)


class Discriminator(nn.Module):
    """``forward(video (B, 3, T, H, W) in [-1, 1]) -> DiscriminatorOutput``."""

    def __init__(self, cfg: VOSGANConfig):
        super().__init__()
        self.cfg = cfg
        n = cfg.discriminator.ndf
        self.shared = nn.Sequential(
            ConvRow("conv3d", 3, n, 4, 2, 1, bn=False),
            ConvRow("conv3d", n, 2 * n, 4, 2, 1),
            *residual_layer(2 * n),
            ConvRow("conv3d", 2 * n, 4 * n, 4, 2, 1),
            *residual_layer(4 * n),
            # 2x2x2 kernel, stride 1, padding 1: grows each axis by one, 256x4x8x8 -> 512x5x9x9.
            ConvRow("conv3d", 4 * n, 8 * n, 2, 1, 1),
        )
        # Motion stream, symmetric to the shared encoder. Table 2 ends in a sigmoid on all three
        # channels; we return the segmentation channel before its sigmoid (logits, for a stable
        # NLL) and apply the sigmoid to the two flow channels.
        self.motion = nn.Sequential(
            ConvRow("convT3d", 8 * n, 4 * n, 2, 1, 1, act="relu"),
            ConvRow("convT3d", 4 * n, 2 * n, 4, 2, 1, act="relu"),
            *residual_layer(2 * n),
            ConvRow("convT3d", 2 * n, n, 4, 2, 1, act="relu"),
            *residual_layer(n),
            ConvRow("convT3d", n, 3, 4, 2, 1, bn=False, act=None),
        )
        # Discrimination stream. Table 2's last row (kernel 4x4x4, stride 4x4x2, no padding) cannot
        # apply to its 1024x4x4x2 input: a 4-frame kernel does not fit 2 frames. The nearest layer
        # giving the stated 2x1x1x1 output is a kernel (and stride) equal to the input's extent,
        # (2, 4, 4) in (T, H, W) for the paper preset, computed here for any preset.
        t, h = cfg.frames // 8 + 1, cfg.size // 8 + 1  # after the shared encoder
        t, h = (t + 2 - 4) // 2 + 1, (h + 2 - 4) // 2 + 1  # after the 4,2,1 convolution
        self.discrimination = nn.Sequential(
            ConvRow("conv3d", 8 * n, 16 * n, 4, 2, 1),
            ConvRow("conv3d", 16 * n, 2, (t, h, h), (t, h, h), 0, bn=False, act=None),
        )
        init_weights(self)
        self.flow_scale = cfg.loss.flow_max_fraction * cfg.size

    def _output(self, dense: torch.Tensor, logit: torch.Tensor | None) -> DiscriminatorOutput:
        return DiscriminatorOutput(logit, dense[:, :1], torch.sigmoid(dense[:, 1:]), self.flow_scale)

    def forward(self, video: torch.Tensor) -> DiscriminatorOutput:
        features = self.shared(video)
        dense = self.motion(features)  # the motion stream first: Table 2's row order
        # Two-way softmax over (fake, real) equals a sigmoid of the logit difference.
        scores = self.discrimination(features).flatten(1)
        return self._output(dense, scores[:, 1] - scores[:, 0])

    def dense(self, video: torch.Tensor) -> DiscriminatorOutput:
        """The motion stream alone (segmentation and flow; ``logit`` None): segmenting needs no
        discrimination stream, and the shared encoder and motion stream take any size divisible by 8."""
        return self._output(self.motion(self.shared(video)), None)
