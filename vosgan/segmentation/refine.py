"""Refinement: a low-resolution foreground probability map made to follow the frame's edges, one
mechanism for every method (VOS-GAN, fine-tuned, CIS, FaSTGAN, the label-free baselines).

None of it is in the VOS-GAN papers, which upsample the discriminator's map bilinearly; the CIS paper
refines its masks with a CRF (its Sect. 4.1). Three choices (``SegmentConfig.refine``):

- ``none``: bilinear upsampling (the paper's evaluation).
- ``guided``: the guided filter (He, Sun and Tang, ECCV 2010 / TPAMI 2013) with the frame's colours as
  the guide, in its fast form (He and Sun, arXiv:1505.00996): the local linear model q = a . I + b is
  fitted on the map's own grid (a window of ``refine_radius`` x the map's height), its coefficients are
  upsampled bilinearly and applied to the frame at its own resolution, so edges are the frame's.
  Linear in the pixels whatever the radius (box filters from cumulative sums).
- ``crf``: the fully connected CRF of Krähenbühl and Koltun (NeurIPS 2011) with Gaussian edge
  potentials on the map's grid, as CIS's ``post_processing/crf_refine.py``
  (github.com/antonilo/unsupervised_detection; there through ``pydensecrf``), solved by mean-field
  iterations in torch, then upsampled bilinearly. Exact inside a window of ``3 sxy`` pixels (``pydensecrf``
  approximates the whole sum with a permutohedral lattice instead): about 12 frames/s from 72x56 to
  128x96 on 2 CPU cores, far slower than the guided filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange

from vosgan.config import REFINEMENTS, SegmentConfig
from vosgan.data.clips import resize_frames, upsample_maps

__all__ = ["REFINEMENTS", "CRFConfig", "Refiner", "box_mean", "dense_crf", "guided_coefficients", "refine"]


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of (..., H, W) over each pixel's (2r + 1)^2 window, clipped at the borders (the mean of the
    pixels inside); separable, from cumulative sums, so the cost does not grow with ``radius``."""
    return _box_1d(_box_1d(x, radius, x.dim() - 1), radius, x.dim() - 2)


def _box_1d(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    zero = torch.zeros_like(x.narrow(dim, 0, 1))
    c = torch.cat([zero, x.cumsum(dim)], dim)
    lo, hi = (torch.arange(n) - radius).clamp(min=0), (torch.arange(n) + radius + 1).clamp(max=n)
    shape = [1] * x.dim()
    shape[dim] = n
    return (c.index_select(dim, hi) - c.index_select(dim, lo)) / (hi - lo).to(x.dtype).view(shape)


def guided_coefficients(
    probability: torch.Tensor, guide: torch.Tensor, radius: int, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The guided filter's window-averaged coefficients of a colour guide: probability (T, h, w), guide
    (T, 3, h, w) in [0, 1] -> (a (T, 3, h, w), b (T, 1, h, w)), the filtered map being sum_c a_c I_c + b.
    ``eps`` regularises each window's colour covariance (larger: smoother, closer to the input map)."""
    p = probability[:, None].float()
    mean_i, mean_p = box_mean(guide, radius), box_mean(p, radius)
    cov_ip = box_mean(guide * p, radius) - mean_i * mean_p  # (T, 3, h, w)
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]  # the symmetric covariance's entries
    products = torch.stack([guide[:, i] * guide[:, j] for i, j in pairs], 1)
    means = torch.stack([mean_i[:, i] * mean_i[:, j] for i, j in pairs], 1)
    rr, rg, rb, gg, gb, bb = (box_mean(products, radius) - means).unbind(1)
    rr, gg, bb = rr + eps, gg + eps, bb + eps
    # (Sigma + eps I)^-1 cov_ip by the adjugate of the symmetric 3x3 matrix, per pixel
    inverse = [gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb, rr * bb - rb * rb, rg * rb - rr * gb]
    inverse.append(rr * gg - rg * rg)
    i00, i01, i02, i11, i12, i22 = inverse
    det = rr * i00 + rg * i01 + rb * i02
    cr, cg, cb = cov_ip.unbind(1)
    a = torch.stack([i00 * cr + i01 * cg + i02 * cb, i01 * cr + i11 * cg + i12 * cb, i02 * cr + i12 * cg + i22 * cb], 1)
    a = a / det[:, None]
    b = mean_p - (a * mean_i).sum(1, keepdim=True)
    return box_mean(a, radius), box_mean(b, radius)


@dataclass(frozen=True)
class CRFConfig:
    """The CRF's settings on a 64x64 grid (the CIS authors' sxy 25 px at 384x192, scaled: about 4 px)."""

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


class Refiner:
    """One video's refinement, frame by frame at the output size (so a long video is never held at its
    own resolution): ``probability`` (T, h, w) on the map's grid, ``guide`` the RGB uint8 frames at that
    size (T, h, w, 3; not needed for ``none``), ``settings`` a ``SegmentConfig`` (its ``refine``,
    ``refine_radius``, ``refine_eps``)."""

    def __init__(self, probability: torch.Tensor, guide: np.ndarray | None, settings: SegmentConfig):
        self.method = settings.refine
        if self.method not in REFINEMENTS:
            raise ValueError(f"unknown refinement {self.method!r}; choose one of {REFINEMENTS}")
        probability = torch.as_tensor(probability).float()
        if self.method != "none" and (guide is None or guide.shape[:3] != probability.shape):
            got = None if guide is None else guide.shape
            need = (*probability.shape, 3)
            raise ValueError(f"refinement {self.method!r} needs frames {need} as its guide, got {got}")
        if self.method == "guided":
            radius = max(1, round(settings.refine_radius * probability.shape[-2]))
            image = rearrange(torch.from_numpy(guide).float() / 255, "t h w c -> t c h w")
            self.a, self.b = guided_coefficients(probability, image, radius, settings.refine_eps)
        elif self.method == "crf":
            probability = torch.from_numpy(dense_crf(probability.numpy(), guide))
        self.probability = probability

    def __len__(self) -> int:
        return len(self.probability)

    def frame(self, t: int, image: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
        """Foreground probability (H, W) float32 in [0, 1] of frame ``t`` at ``size`` = (H, W); ``image``
        the frame at that size (RGB uint8 (H, W, 3); used by ``guided`` only)."""
        if self.method != "guided":
            return upsample_maps(self.probability[None, t : t + 1], *size)[0, 0].clamp(0, 1).numpy()
        if image is None or image.shape[:2] != tuple(size):
            got = None if image is None else image.shape
            raise ValueError(f"the guided filter needs frame {t} at {tuple(size)}, got {got}")
        coefficients = torch.cat([self.a[t], self.b[t]])[:, None]  # (4, 1, h, w)
        a_b = upsample_maps(coefficients, *size)[:, 0]
        colour = rearrange(torch.from_numpy(image).float() / 255, "h w c -> c h w")
        return ((a_b[:3] * colour).sum(0) + a_b[3]).clamp(0, 1).numpy()


def refine(probability: np.ndarray, frames: np.ndarray, settings: SegmentConfig) -> np.ndarray:
    """Foreground probability (T, h, w) at any size and the video's RGB uint8 frames (T, H, W, 3) ->
    the refined probability (T, H, W) float32 (see the module docstring)."""
    if len(probability) != len(frames):
        raise ValueError(f"{len(probability)} probability maps for {len(frames)} frames")
    h, w = probability.shape[1:]
    guide = None if settings.refine == "none" else resize_frames(frames, h, width=w)
    refiner = Refiner(torch.from_numpy(np.ascontiguousarray(probability)), guide, settings)
    size = frames.shape[1:3]
    return np.stack([refiner.frame(t, frames[t], size) for t in range(len(frames))]).astype(np.float32)
