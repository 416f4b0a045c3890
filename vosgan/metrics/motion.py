"""Motion coherency (MC) of the ECCV preprint (Sect. 4): the KL divergence between the flow
magnitude/orientation histograms of real and generated videos. Lower is closer to real motion.

The journal version replaced it with FCD, FID and IS, which need pre-trained Inception/ResNeXt
weights that this offline kit cannot download; MC needs only Farneback flow, so it is kept.
"""

from __future__ import annotations

import numpy as np
import torch

from vosgan.data.flow import batch_flow


def flow_histogram(
    flow: np.ndarray | torch.Tensor, max_magnitude: float, bins: tuple[int, int] = (16, 16)
) -> np.ndarray:
    """Joint histogram (magnitude x orientation) of flow vectors (B, 2, T, H, W) in pixels, normalised to 1.

    Magnitudes are clipped to ``max_magnitude``; a small floor keeps every bin non-empty for the KL.
    """
    flow = torch.as_tensor(flow).float()
    fx, fy = flow[:, 0].flatten().numpy(), flow[:, 1].flatten().numpy()
    magnitude = np.clip(np.hypot(fx, fy), 0, max_magnitude)
    angle = np.arctan2(fy, fx)
    hist, _, _ = np.histogram2d(magnitude, angle, bins=bins, range=[[0, max_magnitude], [-np.pi, np.pi]])
    hist = hist + 1e-6 * hist.sum() + 1e-12
    return hist / hist.sum()


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) of two normalised histograms."""
    return float(np.sum(p * np.log(p / q)))


def motion_coherency(real: torch.Tensor, generated: torch.Tensor, max_fraction: float = 0.125) -> float:
    """MC between two sets of clips (B, 3, T, H, W) in [-1, 1]: KL(real histogram || generated histogram)."""
    limit = max_fraction * real.shape[-1]
    return kl_divergence(flow_histogram(batch_flow(real), limit), flow_histogram(batch_flow(generated), limit))


def model_motion_coherency(generator, dataset, count: int = 32, seed: int = 0) -> float:
    """MC of a generator against ``count`` clips of a ``ClipDataset`` (same geometry)."""
    from vosgan.models.latent import sample_latents
    from vosgan.models.sampling import render

    count = min(count, len(dataset))
    order = np.random.default_rng(seed).permutation(len(dataset))[:count]
    real = torch.stack([dataset[int(i)]["video"] for i in order])
    fake = render(generator, *sample_latents(generator.cfg, count, torch.Generator().manual_seed(seed))).video
    return motion_coherency(real, fake, generator.cfg.loss.flow_max_fraction)
