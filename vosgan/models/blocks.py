"""Layer rows of Tables 1-2: (transposed) convolution + optional batch norm + activation, and the
shape-preserving 3D residual block. Each table row is one module, so summaries can list rows."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from torch import nn

ACTIVATIONS = {
    "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "relu": lambda: nn.ReLU(inplace=True),
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    None: nn.Identity,
}


def conv3d(x: torch.Tensor, weight: torch.Tensor, bias, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    """``F.conv3d`` that pads time itself under CPU bf16 autocast when the clip is shorter than the kernel
    (the discriminator's residual rows and the generator's first upsampling row at T = 2): there
    oneDNN's bf16 weight gradient reads memory it never wrote (PyTorch 2.13, AVX512-BF16), giving
    run-to-run differences and NaN weights. The same convolution of the explicitly zero-padded clip
    takes another kernel; the result is identical."""
    stride, padding = (_triple(v) for v in (stride, padding))
    if x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and x.shape[2] < weight.shape[2] and padding[0]:
        x = F.pad(x, (0, 0, 0, 0, padding[0], padding[0]))
        padding = (0, *padding[1:])
    return F.conv3d(x, weight, bias, stride, padding, dilation, groups)


def _triple(v) -> tuple[int, int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` (zero padding) through ``conv3d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


@functools.cache
def phase_taps() -> torch.Tensor:
    """Per axis, which tap of a kernel-3, padding-1 convolution of a nearest-upsampled (x2) input reaches
    output phase p (output index 2m + p) from offset d of the window m-1..m+1 of the input before
    upsampling: a 0/1 tensor (phase 2, offset 3, tap 3); tap j of output 2m + p reads input
    m + floor((p - 1 + j) / 2)."""
    taps = torch.zeros(2, 3, 3)
    for p in range(2):
        for j in range(3):
            taps[p, 1 + (p - 1 + j) // 2, j] = 1
    return taps


def upsampled_conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``conv3d(upsample_nearest(x, 2), weight, bias, padding=1)`` for a kernel-3 ``weight``, (B, C_in, T,
    H, W) -> (B, C_out, 2T, 2H, 2W), computed without the upsampled tensor: one kernel-3 convolution of
    ``x`` itself to 8 x C_out channels, one per output phase, interleaved (sub-pixel convolution, Shi et
    al. 2016). The same multiply-adds, without writing and reading the upsampled input (8x the size):
    the 'resize' generator's training step 1.3-1.5x faster in fp32, 1.1-1.2x in bf16 on a CPU
    (docs/benchmarks.md)."""
    taps = phase_taps().to(weight.device)
    kernel = einsum(weight, taps, taps, taps, "o i k l m, a x k, b y l, c z m -> o a b c i x y z")
    y = conv3d(x, rearrange(kernel, "o a b c i x y z -> (o a b c) i x y z"), None, 1, 1)
    y = rearrange(y, "n (o a b c) t h w -> n o (t a) (h b) (w c)", a=2, b=2, c=2)
    return y if bias is None else y + bias.to(y.dtype).view(1, -1, 1, 1, 1)


class ConvRow(nn.Sequential):
    """One table row: ``conv`` then batch norm (if ``bn``) then ``act``.

    ``kind`` is 'conv2d', 'convT2d', 'conv3d' or 'convT3d'; kernel, stride and padding are in
    PyTorch order ((T, H, W) for 3D), i.e. the paper's (H, W, T) listing reordered. 'up2d' and
    'up3d' (not in the paper) double every axis by nearest-neighbour upsampling followed by a
    3x3(x3) convolution (Odena et al. 2016), a drop-in for a transposed convolution that doubles
    every axis; their kernel, stride and padding arguments are ignored ('up3d' runs as
    ``upsampled_conv3d``, the same function).
    """

    def __init__(self, kind: str, c_in: int, c_out: int, kernel, stride=1, padding=0, bn=True, act="lrelu"):
        conv_cls = {
            "conv2d": nn.Conv2d,
            "convT2d": nn.ConvTranspose2d,
            "conv3d": Conv3d,
            "convT3d": nn.ConvTranspose3d,
        }
        bn_cls = nn.BatchNorm2d if kind.endswith("2d") else nn.BatchNorm3d
        if kind.startswith("up"):
            conv = conv_cls["conv" + kind[2:]]
            layers = [nn.Upsample(scale_factor=2, mode="nearest"), conv(c_in, c_out, 3, 1, 1, bias=not bn)]
        else:
            layers = [conv_cls[kind](c_in, c_out, kernel, stride, padding, bias=not bn)]
        if bn:
            layers.append(bn_cls(c_out))
        layers.append(ACTIVATIONS[act]())
        super().__init__(*layers)
        self.upsampled_3d = kind == "up3d"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.upsampled_3d:
            return super().forward(x)
        _, conv, *rest = self
        x = upsampled_conv3d(x, conv.weight, conv.bias)
        for layer in rest:
            x = layer(x)
        return x


class ResidualBlock3d(nn.Module):
    """Shape-preserving residual block: x + conv-BN-ReLU-conv-BN(x), then ReLU ((B, C, T, H, W) in and out)."""

    def __init__(self, channels: int, bn: bool = True):
        super().__init__()
        self.body = nn.Sequential(
            ConvRow("conv3d", channels, channels, 3, 1, 1, bn=bn, act="relu"),
            ConvRow("conv3d", channels, channels, 3, 1, 1, bn=bn, act=None),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(x + self.body(x))


def residual_layer(channels: int, bn: bool = True, blocks: int = 3) -> list[nn.Module]:
    """A "Residual Layer" of the tables: three residual blocks, one row each."""
    return [ResidualBlock3d(channels, bn) for _ in range(blocks)]


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation, N(0, 0.02) for convolutions and N(1, 0.02) for batch-norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
