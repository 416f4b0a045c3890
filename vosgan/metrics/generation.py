"""Generation metrics of the journal paper (Sect. 4.1.1): FID, IS and FCD, over several sets.

* FID: the Fréchet distance between Gaussians fitted to clip features of real and generated videos
  (the paper: a 3D ResNeXt, Hara et al. 2018).
* IS: the Inception Score of class probabilities of one random frame per generated video.
* FCD: the mean L2 distance between frame features of the foreground's bounding box in consecutive
  frames, the box taken from the discriminator's segmentation of the generated video.

Each metric takes its features from a ``vosgan.metrics.extractors.FeatureExtractor``, so the same
code scores with the published networks (weights from a local file) or with the kit's own feature
network; every score carries its recipe (extractor and weights hash, clips, frames, size, seeds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

# The real clips FID and MC compare against: the test split of the benchmark the kit's feature
# network was trained on (never seen by it, nor by the GAN, which trains on the unlabeled pool).
FEATURE_BENCHMARK = 1500


def real_clips(frames: int, size: int, count: int = FEATURE_BENCHMARK) -> torch.Tensor:
    """Real clips (N, 3, T, H, W) in [-1, 1] at a generator's geometry (test split of ``count`` clips)."""
    from vosgan.data.clips import to_tensor
    from vosgan.data.synthetic import make_benchmark

    return torch.stack([to_tensor(c.frames) for c in make_benchmark(count, frames, size, 0, split="test")])


def _array(x) -> np.ndarray:
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)


def frechet_distance(a, b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``a`` (N, D) and ``b`` (M, D):
    |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (Heusel et al. 2017), numpy or torch."""
    a, b = _array(a), _array(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance needs two (N, D) arrays of the same D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("frechet_distance needs at least 2 samples per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((S_a S_b)^(1/2)) = Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): symmetric, so eigenvalues are stable
    w, v = np.linalg.eigh(s_a)
    root = (v * np.sqrt(w.clip(0))) @ v.T
    inner = root @ s_b @ root
    trace_covmean = np.sqrt(np.linalg.eigvalsh((inner + inner.T) / 2).clip(0)).sum()
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_covmean
    return float(max(value, 0.0))


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception Score of class probabilities ``probs`` (N, K): exp(E_x KL(p(y|x) || p(y))), computed
    on ``splits`` disjoint chunks; returns (mean, std) over chunks. Lies in [1, K]."""
    p = _array(probs)
    if p.ndim != 2 or (p < 0).any() or not np.allclose(p.sum(1), 1, atol=1e-3):
        raise ValueError(f"inception_score needs (N, K) class probabilities summing to 1, got shape {p.shape}")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be in [1, N={len(p)}], got {splits}")
    scores = []
    for chunk in np.array_split(p, splits):
        marginal = chunk.mean(0, keepdims=True)
        kl = (chunk * (np.log(chunk + 1e-12) - np.log(marginal + 1e-12))).sum(1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def foreground_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Bounding boxes (N, T, 4) as (y0, x0, y1, x1), end exclusive, of binary masks (N, T, H, W);
    a frame with an empty mask gets (0, 0, 0, 0)."""
    rows, cols = masks.any(-1), masks.any(-2)  # (N, T, H), (N, T, W)

    def extent(hit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.arange(hit.shape[-1], device=hit.device)
        first = torch.where(hit, index, hit.shape[-1]).amin(-1)
        last = torch.where(hit, index, -1).amax(-1) + 1
        empty = ~hit.any(-1)
        return first.masked_fill(empty, 0), last.masked_fill(empty, 0)

    y0, y1 = extent(rows)
    x0, x1 = extent(cols)
    return torch.stack([y0, x0, y1, x1], -1)


def crop_boxes(video: torch.Tensor, boxes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops of each frame of ``video`` (N, C, T, H, W) to its box in ``boxes`` (N, T, 4), resized to
    ``size`` x ``size``: (N, T, C, size, size), and the (N, T) mask of frames with a non-empty box."""
    n, c, t = video.shape[:3]
    crops = video.new_zeros(n, t, c, size, size)
    valid = (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
    for i, j in valid.nonzero().tolist():
        y0, x0, y1, x1 = boxes[i, j].tolist()
        patch = video[i, :, j, y0:y1, x0:x1][None]
        crops[i, j] = F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False)[0]
    return crops, valid


def frame_consistency(features: torch.Tensor, valid: torch.Tensor) -> float:
    """FCD from per-frame features (N, T, D) of the foreground crops and their (N, T) validity: the
    mean L2 distance between features of consecutive frames where both are valid (NaN if none)."""
    pair = valid[:, 1:] & valid[:, :-1]
    if not pair.any():
        return float("nan")
    distance = (features[:, 1:] - features[:, :-1]).float().norm(dim=-1)
    return float(distance[pair].mean())


@dataclass(frozen=True)
class GenerationScore:
    """One metric as mean +- std over ``sets`` sets, with the recipe that produced it."""

    metric: str
    mean: float
    std: float
    values: tuple[float, ...]
    recipe: dict = field(default_factory=dict)

    def __str__(self) -> str:
        features = self.recipe.get("features", "?")
        return f"{self.metric} {self.mean:.3f} +- {self.std:.3f} ({len(self.values)} sets, {features})"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def over_sets(cls, metric: str, values, recipe: dict) -> GenerationScore:
        values = tuple(float(v) for v in values)
        finite = [v for v in values if np.isfinite(v)]  # FCD is NaN for a set without any foreground
        mean, std = (float(np.mean(finite)), float(np.std(finite))) if finite else (float("nan"),) * 2
        return cls(metric, mean, std, values, recipe)


@torch.no_grad()
def fcd_of_videos(video: torch.Tensor, masks: torch.Tensor, extractor) -> float:
    """FCD of videos (N, 3, T, H, W) in [-1, 1] with foreground masks (N, T, H, W) (bool)."""
    boxes = foreground_boxes(masks)
    crops, valid = crop_boxes(video, boxes, extractor.frame_size)
    n = crops.shape[0]
    feats = extractor.frame_features(rearrange(crops, "n t c h w -> (n t) c h w"))
    return frame_consistency(rearrange(feats, "(n t) d -> n t d", n=n), valid)


@torch.no_grad()
def score_generation(
    generator,
    discriminator,
    real: torch.Tensor,
    extractor,
    sets: int = 20,
    per_set: int = 64,
    seed: int = 0,
    batch: int = 32,
) -> dict[str, GenerationScore]:
    """FID, IS, FCD and motion coherency of ``generator`` against real clips ``real`` (M, 3, T, H, W)
    in [-1, 1], over ``sets`` sets of ``per_set`` generated clips (set s uses seed ``seed + s``; real
    clips are drawn per set with the same seed). ``discriminator`` segments the foreground for FCD."""
    from vosgan.metrics.motion import motion_coherency
    from vosgan.models.latent import sample_latents
    from vosgan.models.sampling import render

    cfg = generator.cfg
    real_features = _batched(extractor.clip_features, real, batch)
    fid, is_, fcd, mc = [], [], [], []
    for s in range(sets):
        rng = torch.Generator().manual_seed(seed + s)
        videos = torch.cat(
            [
                render(generator, *sample_latents(cfg, min(batch, per_set - i), rng)).video.float()
                for i in range(0, per_set, batch)
            ]
        )
        pick = torch.randperm(len(real), generator=rng)[:per_set]
        fid.append(frechet_distance(real_features[pick], _batched(extractor.clip_features, videos, batch)))
        frame = torch.randint(videos.shape[2], (len(videos),), generator=rng)
        one_frame = videos[torch.arange(len(videos)), :, frame]  # (N, 3, H, W): one random frame per video
        is_.append(inception_score(extractor.frame_probs(one_frame), splits=1)[0])
        device = next(discriminator.parameters()).device
        masks = discriminator.eval().dense(videos.to(device)).probability[:, 0].cpu() > 0.5
        fcd.append(fcd_of_videos(videos, masks, extractor))
        mc.append(motion_coherency(real[pick], videos, cfg.loss.flow_max_fraction))
    recipe = {
        **extractor.recipe(),
        "sets": sets,
        "clips_per_set": per_set,
        "frames": int(real.shape[2]),
        "size": int(real.shape[-1]),
        "real_clips": len(real),
        "seeds": [seed, seed + sets - 1],
    }
    mc_recipe = {**recipe, "features": "farneback flow histograms"}
    return {
        "FID": GenerationScore.over_sets("FID", fid, recipe),
        "IS": GenerationScore.over_sets("IS", is_, recipe),
        "FCD": GenerationScore.over_sets("FCD", fcd, recipe),
        "MC": GenerationScore.over_sets("MC", mc, mc_recipe),
    }


def _batched(fn, x: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])
