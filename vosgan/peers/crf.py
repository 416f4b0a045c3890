"""CIS's post-processing (Sect. 4.1: "the final mask is generated with a CRF"): a fully connected CRF
with Gaussian edge potentials (Krähenbühl and Koltun, NeurIPS 2011) on each frame's foreground
probability, solved by mean-field iterations.

Two labels, a Potts model and one appearance kernel, as the CIS authors' ``post_processing/crf_refine.py``
(github.com/antonilo/unsupervised_detection; there through the ``pydensecrf`` library): unary
-log P, pairwise ``compat * exp(-|p_i - p_j|^2 / 2 sxy^2 - |I_i - I_j|^2 / 2 srgb^2)`` between pixels of
different labels. Their settings: sxy 25 px at 384x192, srgb 5, compat 5, 50 iterations. Written here
in torch (no CRF library is a kit dependency): the kernel is exact inside a window of ``3 sxy`` pixels
around each pixel and zero beyond (``pydensecrf`` approximates the whole sum with a permutohedral
lattice instead), fine at the kit's working sizes (64x64: about 3 s per 32-frame clip on 2 CPU cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange


@dataclass(frozen=True)
class CRFConfig:
    """The CRF's settings at the working size (the authors' sxy scaled from 384x192 to 64x64, ~4 px)."""

    sxy: float = 4.0  # pixels: the spatial width of the appearance kernel
    srgb: float = 5.0  # RGB units (0-255): its colour width
    compat: float = 5.0  # the Potts weight of the pairwise term
    iterations: int = 10

    def __post_init__(self):
        if self.sxy <= 0 or self.srgb <= 0 or self.compat < 0 or self.iterations < 1:
            raise ValueError(f"the CRF needs sxy > 0, srgb > 0, compat >= 0, iterations >= 1; got {self}")


def dense_crf(probability: np.ndarray, frames: np.ndarray, cfg: CRFConfig = CRFConfig(), chunk: int = 1) -> np.ndarray:
    """Foreground probability (T, H, W) and RGB uint8 frames (T, H, W, 3) of the same size -> the CRF's
    foreground marginal (T, H, W) after ``cfg.iterations`` mean-field updates (threshold it at 0.5 for
    the MAP labels). Frames are processed ``chunk`` at a time (memory: chunk x H x W x window^2 floats)."""
    if probability.shape != frames.shape[:3]:
        raise ValueError(f"probability {probability.shape} and frames {frames.shape} differ in (T, H, W)")
    return np.concatenate(
        [_mean_field(probability[i : i + chunk], frames[i : i + chunk], cfg) for i in range(0, len(frames), chunk)]
    )


def _mean_field(probability: np.ndarray, frames: np.ndarray, cfg: CRFConfig) -> np.ndarray:
    t, h, w = probability.shape
    r = math.ceil(3 * cfg.sxy)
    window = lambda x: torch.nn.functional.unfold(x, 2 * r + 1, padding=r)  # noqa: E731  (T, C * K, H * W)
    # the kernel k_ij (T, K, H * W) between each pixel and its K = (2r + 1)^2 window neighbours
    dy, dx = torch.meshgrid(torch.arange(-r, r + 1.0), torch.arange(-r, r + 1.0), indexing="ij")
    spatial = torch.exp(-(dy**2 + dx**2).flatten() / (2 * cfg.sxy**2))
    spatial[len(spatial) // 2] = 0  # no message from a pixel to itself
    image = rearrange(torch.from_numpy(frames).float(), "t h w c -> t c h w") / cfg.srgb
    inside = window(torch.ones(t, 1, h, w))  # 0 where the window leaves the frame
    neighbours = rearrange(window(image), "t (c k) n -> t c k n", c=3)
    distance = (neighbours - rearrange(image, "t c h w -> t c 1 (h w)")).pow(2).sum(1)
    kernel = spatial[:, None] * inside * torch.exp(-0.5 * distance)
    # two labels: Q_i(fg) = sigmoid(log P / (1 - P) + compat * (m_i(fg) - m_i(bg))), m_i(l) = sum_j k_ij Q_j(l)
    p = torch.from_numpy(probability).float().clamp(1e-6, 1 - 1e-6)
    unary = rearrange((p / (1 - p)).log(), "t h w -> t (h w)")
    total = kernel.sum(1)  # m_i(fg) + m_i(bg)
    q = p[:, None]
    for _ in range(cfg.iterations):
        message = (kernel * window(q)).sum(1)  # m_i(fg)
        q = rearrange(torch.sigmoid(unary + cfg.compat * (2 * message - total)), "t (h w) -> t 1 h w", h=h)
    return q[:, 0].numpy()
