"""Training the segmentation network (the discriminator's shared encoder + motion stream) on masks.

One routine serves the paper's fine-tuned settings and the supervised baseline (Sect. 4.4):
``finetune`` trains on ground-truth masks, keeping only ``label_fraction`` of the annotated
frames; ``train_on_generator`` is the "synthetic" setting, trained from scratch on the masks a
trained generator produces for its own videos.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm.auto import tqdm

from vosgan.data.datasets import ClipDataset, make_loader
from vosgan.data.io import DataError
from vosgan.device import autocast, seed_everything
from vosgan.models import Discriminator, Generator
from vosgan.models.checkpoint import checkpoint_state
from vosgan.models.latent import sample_latents
from vosgan.training.losses import weighted_segmentation_loss
from vosgan.training.optim import make_optimizer
from vosgan.training.recalibrate import precise_batchnorm


def segmentation_parameters(discriminator: Discriminator) -> list[torch.nn.Parameter]:
    """The segmenter's parameters: shared encoder and motion stream (not the real/fake head)."""
    return [*discriminator.shared.parameters(), *discriminator.motion.parameters()]


def segment_at_training_size(discriminator: Discriminator) -> None:
    """A segmenter trained on masks at the preset's square frame segments real videos there: its config's
    working size is reset (a GAN discriminator's, chosen by val J, does not carry over: the shipped
    model fine-tuned for 300 steps scored val J 0.456 at 32 px, 0.469 at 48 and 0.427 at its own 56).
    Choose another by val J with ``vosgan export --working-size``."""
    discriminator.cfg = discriminator.cfg.with_overrides(segment={"working_size": 0})


def label_weights(shots: int, frames: int, fraction: float, seed: int = 0) -> torch.Tensor:
    """(shots, frames) of 0/1: a seeded choice of ``fraction`` of all annotated frames (at least one)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    total = shots * frames
    keep = max(1, round(fraction * total))
    chosen = np.random.default_rng(seed).permutation(total)[:keep]
    weights = np.zeros(total, np.float32)
    weights[chosen] = 1
    return torch.from_numpy(weights.reshape(shots, frames))


def _step(discriminator, optimizer, video, target, weight, device, balanced: bool = False) -> float:
    with autocast(device):
        logits = discriminator.dense(video).segmentation
    loss = weighted_segmentation_loss(logits, target, weight, balanced)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def finetune(
    discriminator: Discriminator,
    dataset: ClipDataset,
    iterations: int,
    batch_size: int = 8,
    lr: float = 2e-4,
    label_fraction: float = 1.0,
    seed: int = 0,
    progress: bool = True,
    balanced: bool = True,
) -> list[float]:
    """Train the segmenter in place on the dataset's ground-truth masks (class-balanced NLL unless
    ``balanced=False``), at the preset's square (``segment_at_training_size``); returns the losses."""
    if not all(s.masks is not None for s in dataset.shots):
        raise DataError("fine-tuning needs ground-truth masks for every shot; this dataset has shots without them")
    device = next(discriminator.parameters()).device
    torch.manual_seed(seed)
    weights = label_weights(len(dataset), dataset.shots[0].frames.shape[0], label_fraction, seed)
    optimizer = make_optimizer(segmentation_parameters(discriminator), discriminator.cfg.train, lr)
    discriminator.train()
    batch_size = min(batch_size, len(dataset))
    steps_per_epoch = len(dataset) // batch_size
    losses = []
    bar = tqdm(total=iterations, desc=f"fine-tuning ({label_fraction:.0%} labels)", disable=not progress, leave=False)
    while len(losses) < iterations:
        epoch = len(losses) // steps_per_epoch
        for batch in make_loader(dataset, batch_size, seed=seed, epoch=epoch):
            video = batch["video"].to(device)
            weight = weights[batch["index"]].to(device)
            losses.append(_step(discriminator, optimizer, video, batch["mask"].to(device), weight, device, balanced))
            bar.update(1)
            if len(losses) >= iterations:
                break
    bar.close()
    # BatchNorm statistics of the final weights on the training clips (no labels needed)
    clips = (
        torch.stack([dataset.video(i) for i in range(j, min(j + batch_size, len(dataset)))])
        for j in range(0, len(dataset), batch_size)
    )
    precise_batchnorm(discriminator, clips, device)
    segment_at_training_size(discriminator)
    return losses


def finetuned_state(
    models,
    before: dict,
    dataset: ClipDataset,
    iterations: int,
    label_fraction: float = 1.0,
    seed: int = 0,
    from_scratch: bool = False,
    **options,
) -> tuple[dict, list[float]]:
    """``vosgan finetune`` as a function: the checkpoint state of ``models.discriminator`` (a ``Models``)
    fine-tuned on the dataset's masks or, ``from_scratch``, of a freshly initialised one (the supervised
    baseline), with its losses; the training record adds the seconds of the adversarial pre-training
    (``before``: the source checkpoint's ``train``) unless from scratch. ``options`` are ``finetune``'s
    (batch_size, lr, progress, balanced). Returns (state, losses)."""
    discriminator = models.discriminator
    if from_scratch:  # the supervised baseline: same network, no adversarial pre-training
        seed_everything(seed)
        discriminator = Discriminator(models.cfg).to(next(discriminator.parameters()).device)
    begin = time.perf_counter()
    losses = finetune(discriminator, dataset, iterations, label_fraction=label_fraction, seed=seed, **options)
    seconds = time.perf_counter() - begin
    tuned = {"losses": losses, "label_fraction": label_fraction, "seconds": seconds, "from_scratch": from_scratch}
    spent = 0.0 if from_scratch else before.get("seconds", 0.0)
    record = {"steps": iterations, "seconds": seconds + spent, "seed": seed}
    # the segmenter's config: its working size is the preset's square, where it was fine-tuned
    state = checkpoint_state("vosgan", discriminator.cfg, models.generator, discriminator, finetune=tuned, train=record)
    return state, losses


def train_on_generator(
    generator: Generator,
    discriminator: Discriminator,
    iterations: int,
    batch_size: int = 8,
    lr: float = 2e-4,
    seed: int = 0,
    progress: bool = True,
    balanced: bool = True,
) -> list[float]:
    """The "synthetic" setting: train the segmenter on (G(z), m(z) > 0.5) pairs, no real data, with the
    class-balanced NLL unless ``balanced=False`` (as ``finetune``: with the plain one it predicts no
    foreground for the first few hundred steps)."""
    device = next(discriminator.parameters()).device
    cfg = generator.cfg
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimizer = make_optimizer(segmentation_parameters(discriminator), discriminator.cfg.train, lr)
    generator.eval()
    discriminator.train()
    losses = []
    for _ in tqdm(range(iterations), desc="training on generated masks", disable=not progress, leave=False):
        with torch.no_grad(), autocast(device):
            fake = generator(*sample_latents(cfg, batch_size, rng, device))
        target = (fake.mask.float() > 0.5).float()
        weight = torch.ones(batch_size, cfg.frames, device=device)
        losses.append(_step(discriminator, optimizer, fake.video.float(), target, weight, device, balanced))

    def generated(batches: int):  # BatchNorm statistics of the final weights on fresh generated clips
        for _ in range(batches):
            with autocast(device):
                yield generator(*sample_latents(cfg, batch_size, rng, device)).video.float()

    precise_batchnorm(discriminator, generated(max(1, 256 // batch_size)), device)
    segment_at_training_size(discriminator)
    return losses
