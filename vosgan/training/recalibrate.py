"""Recompute a discriminator's BatchNorm statistics on real clips, without labels.

In training, D's BatchNorm layers keep running averages of every batch they see: per step one real
and one generated batch in D's step, and ``g_steps`` more generated batches in G's steps (D runs in
training mode there too). At evaluation, in eval mode, D therefore normalises real clips with
statistics that are mostly those of generated clips. Recomputing them on real training clips, as SWA
does after averaging weights (Izmailov et al. 2018, ``torch.optim.swa_utils.update_bn``), uses no labels:
only the unlabeled videos the GAN trains on. Not in the paper; off unless asked for
(``train.bn_clips``, ``vosgan export --bn-clips``).
"""

from __future__ import annotations

import copy

import torch
from torch.optim.swa_utils import update_bn

from vosgan.models import Discriminator


@torch.no_grad()
def precise_batchnorm(module: torch.nn.Module, batches, device: torch.device | str | None = None) -> None:
    """Replace every BatchNorm's running statistics, in place, by their average over ``batches`` (clips
    (B, 3, T, H, W)) under the final weights ("precise BN"); ``module`` ends in eval mode. After a short
    training the momentum averages still mix in the early weights' statistics."""
    update_bn(batches, module, device)
    module.eval()


@torch.no_grad()
def recalibrate_batchnorm(
    discriminator: Discriminator, dataset, clips: int, batch_size: int = 16, seed: int = 0
) -> Discriminator:
    """A copy of ``discriminator`` in eval mode whose BatchNorm statistics are those of ``clips`` clips
    of ``dataset`` (a ``ClipDataset``; a seeded random choice, unaugmented): each layer's batch mean and
    variance, as training mode computes them, averaged over the batches. The weights are unchanged."""
    if clips < 1:
        raise ValueError(f"clips must be >= 1, got {clips}")
    if len(dataset) == 0:
        raise ValueError("the dataset has no clips to recompute BatchNorm statistics on")
    recalibrated = copy.deepcopy(discriminator)
    device = next(recalibrated.parameters()).device
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:clips]
    batches = (torch.stack([dataset.video(int(i)) for i in chunk]) for chunk in order.split(batch_size))
    precise_batchnorm(recalibrated, batches, device)
    return recalibrated
