"""The kit's own feature network for offline generation metrics (FID, IS, FCD without downloads).

A small classifier trained on the embedded benchmark's real train clips: a frame tower (2D) that
names the background photograph, and a clip tower (3D) that names the first object's motion kind.
Its pooled activations are the features of FID (clip tower), IS and FCD (frame tower). Scores
computed with it are **kit-feature scores**: comparable between models scored with the same network
file (its digest is in every score's recipe), never with published numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from vosgan.data.clips import to_tensor
from vosgan.data.synthetic import MOTION_KINDS, PHOTOS, make_benchmark
from vosgan.metrics.networks import temporal_resample

FRAMES, SIZE = 16, 32  # every clip is resampled to 16 frames of 32x32 before the network


def _conv(block, cin: int, cout: int, stride) -> nn.Sequential:
    return nn.Sequential(block(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True))


class FeatureNet(nn.Module):
    """``frame_features`` (N, 3, 32, 32) -> (N, 4w); ``clip_features`` (N, 3, 16, 32, 32) -> (N, 4w) (w: width);
    heads ``background`` (photos; frame tower) and ``motion`` (clip tower)."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.width = w
        self.frames = nn.Sequential(
            _conv(nn.Conv2d, 3, w, 2), _conv(nn.Conv2d, w, 2 * w, 2), _conv(nn.Conv2d, 2 * w, 4 * w, 2)
        )
        # The clip tower sees frames and their temporal differences and keeps a coarse (4, 2, 2) grid of
        # where things are over time before its feature layer: a trajectory's kind is in that layout.
        self.clips = nn.Sequential(
            _conv(nn.Conv3d, 6, w, (1, 2, 2)),
            _conv(nn.Conv3d, w, 2 * w, 2),
            _conv(nn.Conv3d, 2 * w, 4 * w, 2),
            nn.AdaptiveAvgPool3d((4, 2, 2)),
            nn.Flatten(),
            nn.Linear(64 * w, 4 * w),
            nn.ReLU(inplace=True),
        )
        self.background = nn.Linear(4 * w, len(PHOTOS))
        self.motion = nn.Linear(4 * w, len(MOTION_KINDS))

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.frames(frames).mean((2, 3))

    def clip_features(self, clips: torch.Tensor) -> torch.Tensor:
        motion = torch.cat([clips[:, :, 1:] - clips[:, :, :-1], torch.zeros_like(clips[:, :, :1])], 2)
        return self.clips(torch.cat([clips, motion], 1))


def prepare_clips(video: torch.Tensor) -> torch.Tensor:
    """Clips (N, 3, T, H, W) in [-1, 1] -> (N, 3, 16, 32, 32): frames spread evenly, then resized."""
    video = video[:, :, temporal_resample(video.shape[2], FRAMES)]
    frames = rearrange(video.float(), "n c t h w -> (n t) c h w")
    frames = prepare_frames(frames)
    return rearrange(frames, "(n t) c h w -> n c t h w", n=video.shape[0])


def prepare_frames(frames: torch.Tensor) -> torch.Tensor:
    """Frames (N, 3, H, W) in [-1, 1] -> (N, 3, 32, 32)."""
    if frames.shape[-2:] == (SIZE, SIZE):
        return frames.float()
    return F.interpolate(frames.float(), size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)


def labelled_clips(count: int, split: str, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``count``-clip benchmark's ``split`` clips (N, 3, 16, 32, 32) and their labels (motion, background)."""
    clips = make_benchmark(count, 32, 64, seed, split=split)
    video = prepare_clips(torch.stack([to_tensor(c.frames) for c in clips]))
    labels = {
        "motion": torch.tensor([MOTION_KINDS.index(c.motion) for c in clips]),
        "background": torch.tensor([PHOTOS.index(c.background) for c in clips]),
    }
    return video, labels


def _losses(net: FeatureNet, video: torch.Tensor, labels: dict[str, torch.Tensor], generator: torch.Generator):
    frame = torch.randint(video.shape[2], (len(video),), generator=generator)
    frames = video[torch.arange(len(video)), :, frame]
    f = net.frame_features(frames)
    logits = {"background": net.background(f), "motion": net.motion(net.clip_features(video))}
    return logits, sum(F.cross_entropy(logits[k], labels[k]) for k in logits)


def train_feature_network(
    count: int = 1500, steps: int = 3000, batch: int = 32, seed: int = 0, progress: bool = True
) -> tuple[FeatureNet, dict[str, float]]:
    """Train a ``FeatureNet`` on the train split of a ``count``-clip benchmark (seed ``seed``) and
    return it with its accuracies on the val split (one random frame per clip for the frame heads)."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    net = FeatureNet()
    video, labels = labelled_clips(count, "train", seed)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    rng = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(steps), desc="feature network", disable=not progress):
        pick = torch.randint(len(video), (batch,), generator=rng)
        flip = torch.rand(()) < 0.5  # left-right flips keep every label
        clips = video[pick].flip(-1) if flip else video[pick]
        _, loss = _losses(net, clips, {k: v[pick] for k, v in labels.items()}, rng)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval(), accuracies(net, *labelled_clips(count, "val", seed))


@torch.no_grad()
def accuracies(net: FeatureNet, video: torch.Tensor, labels: dict[str, torch.Tensor]) -> dict[str, float]:
    """Share of correct labels per head on clips (N, 3, 16, 32, 32)."""
    net.eval()
    logits, _ = _losses(net, video, labels, torch.Generator().manual_seed(0))
    return {k: float((logits[k].argmax(1) == labels[k]).float().mean()) for k in logits}


def save_feature_network(net: FeatureNet, path: str | os.PathLike, scores: dict[str, float], recipe: dict) -> Path:
    from vosgan.models.checkpoint import save_checkpoint

    state = {
        "kind": "feature-network",
        "width": net.width,
        "weights": net.state_dict(),
        "val_accuracy": scores,
        "recipe": recipe,
    }
    return save_checkpoint(path, state)


def load_feature_network(path: str | os.PathLike) -> FeatureNet:
    from vosgan.models.checkpoint import CheckpointError, safe_load

    if not Path(path).is_file():
        raise CheckpointError(f"no feature network at {path}; train one with `vosgan features --out {path}`")
    state = safe_load(path)
    if not isinstance(state, dict) or state.get("kind") != "feature-network":
        raise CheckpointError(f"{path} is not a kit feature network (made by `vosgan features --out`)")
    net = FeatureNet(state["width"])
    net.load_state_dict(state["weights"])
    return net.eval()
