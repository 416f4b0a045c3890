"""Feature extractors for the generation metrics: what FID, IS and FCD look through.

An extractor has ``frame_features`` (N, 3, H, W) -> (N, D), ``frame_probs`` (N, 3, H, W) -> (N, K),
``clip_features`` (N, 3, T, H, W) -> (N, D) (inputs in [-1, 1]), ``frame_size`` (the side FCD's
foreground crops are resized to) and ``recipe()`` (its name and weights' digest, stored with every
score). Two kinds:

* ``PublishedExtractor``: the paper's networks (Inception-v3 for IS and FCD, 3D ResNeXt-101 for FID),
  weights from local files; ``random_init=True`` builds them untrained (for tests only: such scores
  mean nothing and say so in their recipe).
* ``KitExtractor``: the kit's own ``FeatureNet`` (``checkpoints/features-small.pt``), offline; its
  scores are labelled "kit features" and never compared with published numbers.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from einops import rearrange

from vosgan.metrics.networks import InceptionV3, ResNeXt3D, file_digest, load_network_weights, temporal_resample


class KitExtractor:
    """Features of the kit's ``FeatureNet`` (frame tower: frames; clip tower: clips; background head: IS)."""

    frame_size = 32

    def __init__(self, path: str | os.PathLike):
        from vosgan.metrics.featurenet import load_feature_network

        self.net, self.digest = load_feature_network(path), file_digest(path)

    def recipe(self) -> dict:
        return {"features": "kit features (FeatureNet; not comparable with published scores)", "weights": self.digest}

    @torch.no_grad()
    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        from vosgan.metrics.featurenet import prepare_frames

        return self.net.frame_features(prepare_frames(frames))

    @torch.no_grad()
    def frame_probs(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net.background(self.frame_features(frames)).softmax(1)

    @torch.no_grad()
    def clip_features(self, video: torch.Tensor) -> torch.Tensor:
        from vosgan.metrics.featurenet import prepare_clips

        return self.net.clip_features(prepare_clips(video))


class PublishedExtractor:
    """Inception-v3 (IS, FCD; 299x299 frames) and 3D ResNeXt-101 (FID; 16 frames of 112x112) with
    weights from ``inception`` and ``resnext`` (local files: torchvision's ``inception_v3_google-*.pth``
    and Hara et al.'s ``resnext-101-kinetics.pth``)."""

    frame_size = 299

    def __init__(
        self,
        inception: str | os.PathLike | None = None,
        resnext: str | os.PathLike | None = None,
        random_init: bool = False,
        resnext_layers=(3, 4, 23, 3),
    ):
        if not random_init and (inception is None or resnext is None):
            raise ValueError(
                "the published extractor needs --inception-weights and --resnext-weights (local files; nothing is "
                "downloaded), or the kit's own features (--features kit)"
            )
        self.inception, self.resnext = InceptionV3().eval(), ResNeXt3D(resnext_layers).eval()
        self.digests = {"inception": "random-init", "resnext": "random-init"}
        if inception is not None:
            self.digests["inception"] = load_network_weights(self.inception, inception)
        if resnext is not None:
            self.digests["resnext"] = load_network_weights(self.resnext, resnext)

    def recipe(self) -> dict:
        return {"features": "Inception-v3 (IS, FCD) + 3D ResNeXt-101 (FID)", "weights": self.digests}

    @torch.no_grad()
    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.inception.features(F.interpolate(frames.float(), size=(299, 299), mode="bilinear"))

    @torch.no_grad()
    def frame_probs(self, frames: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(frames.float(), size=(299, 299), mode="bilinear")
        return self.inception(x).softmax(1)

    @torch.no_grad()
    def clip_features(self, video: torch.Tensor) -> torch.Tensor:
        video = video[:, :, temporal_resample(video.shape[2], 16)].float()
        frames = F.interpolate(rearrange(video, "n c t h w -> (n t) c h w"), size=(112, 112), mode="bilinear")
        mean = torch.tensor(ResNeXt3D.MEAN).view(1, 3, 1, 1)
        frames = (frames + 1) * 127.5 - mean  # Hara et al.: 0-255 values minus the ActivityNet mean
        return self.resnext.features(rearrange(frames, "(n t) c h w -> n c t h w", n=video.shape[0]))


def make_extractor(kind: str, kit_path=None, inception=None, resnext=None):
    """``kind`` 'kit' (``kit_path``, default ``checkpoints/features-small.pt``) or 'published'."""
    from vosgan.paths import FEATURES_CHECKPOINT

    if kind == "kit":
        return KitExtractor(kit_path or FEATURES_CHECKPOINT)
    if kind == "published":
        return PublishedExtractor(inception, resnext)
    raise ValueError(f"unknown features {kind!r}; choose 'kit' or 'published'")
