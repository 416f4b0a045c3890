"""What the peer methods share: layers, training videos at the working size, the step-seeded
training loop with atomic, resumable checkpoints, and loading a checkpoint that names its method.

A peer checkpoint is a kit checkpoint (``vosgan.models.checkpoint``): ``config``, ``generator`` and
``discriminator`` weights (CIS: mask generator and inpainter; FaSTGAN: regressor and critics), plus
``method`` and ``train`` (steps, seconds, labels used). Every training step draws its data and noise
from generators seeded by (seed, step), so a resumed run repeats exactly what it would have done.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vosgan.config import SegmentConfig
from vosgan.data.clips import resize_frames, to_tensor
from vosgan.data.io import DataError
from vosgan.models.checkpoint import (
    checkpoint_state,
    evaluated_weights,
    load_checkpoint,
    load_weights,
    nonfinite_tensors,
    require_method,
)
from vosgan.training.optim import EMA


def conv_bn(c_in: int, c_out: int, stride: int = 1, dilation: int = 1, act: bool = True) -> nn.Sequential:
    """3x3 convolution (``dilation`` keeps the size), batch norm, ReLU: (B, c_in, H, W) -> (B, c_out, H/s, W/s)."""
    layers = [nn.Conv2d(c_in, c_out, 3, stride, dilation, dilation, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if act else nn.Sequential(*layers)


def upsample(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of (B, C, h, w) to ``like``'s spatial size."""
    return nn.functional.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class Encoder(nn.Sequential):
    """Five conv-BN-ReLU layers to 1/4 resolution: (B, c_in, H, W) -> (B, 4w, H/4, W/4); the 1/1 and
    1/2 features are kept for the decoder's skip connections."""

    def __init__(self, c_in: int, w: int):
        super().__init__(
            conv_bn(c_in, w),
            conv_bn(w, 2 * w, 2),
            conv_bn(2 * w, 2 * w),
            conv_bn(2 * w, 4 * w, 2),
            conv_bn(4 * w, 4 * w),
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for k, layer in enumerate(self):
            x = layer(x)
            if k in (0, 2, 4):
                feats.append(x)
        return feats  # full, half, quarter


class Decoder(nn.Module):
    """Five conv layers with two bilinear x2 upsamplings and skip connections: quarter-resolution
    features (B, c, H/4, W/4) and the skips -> (B, c_out, H, W)."""

    def __init__(self, c: int, skip_half: int, skip_full: int, w: int, c_out: int):
        super().__init__()
        self.up_half = nn.Sequential(conv_bn(c + skip_half, 2 * w), conv_bn(2 * w, 2 * w))
        self.up_full = nn.Sequential(conv_bn(2 * w + skip_full, w), conv_bn(w, w))
        self.out = nn.Conv2d(w, c_out, 3, 1, 1)

    def features(self, x: torch.Tensor, half: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
        """The last layer's features (B, w, H, W), before the output convolution."""
        x = self.up_half(torch.cat([upsample(x, half), half], 1))
        return self.up_full(torch.cat([upsample(x, full), full], 1))

    def forward(self, x: torch.Tensor, half: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x, half, full))


def images(frames: np.ndarray) -> torch.Tensor:
    """RGB uint8 frames (B, H, W, 3) -> float (B, 3, H, W) in [-1, 1]."""
    return to_tensor(frames, "b h w c -> b c h w")


def step_generators(seed: int, step: int) -> tuple[np.random.Generator, torch.Generator]:
    """The NumPy and torch random generators of one training step, fixed by (seed, step)."""
    rng = np.random.default_rng([seed, step])
    return rng, torch.Generator().manual_seed(int(rng.integers(2**62)))


Videos = dict[str, tuple[np.ndarray, np.ndarray | None]]  # name -> (frames (N, S, S, 3), ids (N, S, S) or None)


def videos_at(sequences, size: int, need_masks: bool = False) -> Videos:
    """Read ``Sequence``s and resize them to ``size`` x ``size`` (masks by nearest neighbour)."""
    videos = {}
    for seq in sequences:
        if need_masks and seq.read_masks is None:
            raise DataError(f"sequence {seq.name!r} has no annotations; this method trains on ground-truth masks")
        masks = seq.read_masks() if seq.read_masks else None
        frames = seq.read_frames()
        videos[seq.name] = (
            resize_frames(frames, size),
            resize_frames(masks, size, nearest=True) if masks is not None else None,
        )
    return videos


def training_videos(data: str, split: str, size: int, need_masks: bool = False, fmt: str = "davis") -> Videos:
    """``data='synthetic'``: that split of the embedded evaluation benchmark (``EVAL_BENCHMARK``);
    otherwise a dataset folder read in ``fmt`` (DAVIS splits from ``ImageSets``)."""
    if data == "synthetic":
        from vosgan.segmentation.evaluation import RealClips

        clips = RealClips.benchmark(split)
        frames = {n: resize_frames(f, size) for n, f in clips.frames.items()}
        return {n: (frames[n], resize_frames(m, size, nearest=True)) for n, m in clips.masks.items()}
    from vosgan.data.sources import read_sequences

    return videos_at(read_sequences(data, fmt, split), size, need_masks)


class PeerTrainer:
    """A peer's trainer in the shape of the kit's training loop (``vosgan.training.loop``): subclasses
    set ``method``, ``cfg``, ``seed``, ``device``, the optimizers ``opt_g`` / ``opt_d``, return their two
    networks from ``networks()`` and take step ``k`` in ``update(k)``, returning its figures."""

    method: str
    step: int = 0
    train_seconds: float = 0.0
    stop_signal: int | None = None
    last_good: tuple[str, int] | None = None
    is_main = True
    ema: EMA | None = None  # an average of the generator, saved as ``generator_ema`` and used for evaluation

    def networks(self) -> tuple[nn.Module, nn.Module]:
        raise NotImplementedError

    def update(self, k: int) -> dict[str, float]:
        raise NotImplementedError

    def labels(self) -> str:
        """The ground truth training used, as the comparison table prints it."""
        return "none"

    def steps(self):
        """One ``update`` per item, endlessly; yields its figures with the step and its seconds."""
        while True:
            begin = time.perf_counter()
            figures = self.update(self.step)
            seconds = time.perf_counter() - begin
            self.train_seconds += seconds
            self.step += 1
            yield {"step": self.step, **figures, "seconds": seconds}

    def summary(self, figures: dict[str, float]) -> dict[str, str]:
        """The first three figures of a step, for the progress bar."""
        shown = [(k, v) for k, v in figures.items() if k not in ("step", "seconds")][:3]
        return {k: f"{v:.3f}" for k, v in shown}

    def weights_finite(self) -> bool:
        return not any(nonfinite_tensors(net.state_dict()) for net in self.networks())

    @property
    def train_record(self) -> dict:
        return {"steps": self.step, "seconds": self.train_seconds, "labels": self.labels(), "seed": self.seed}

    def state_dict(self) -> dict:
        opts = {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}
        if self.ema is not None:
            opts["generator_ema"] = self.ema.state_dict()
        return checkpoint_state(
            self.method, self.cfg, *self.networks(), **opts, step=self.step, train=self.train_record
        )

    def load_state_dict(self, state: dict) -> None:
        """Weights, optimizer states and step count of ``state``; the learning rates stay this trainer's
        (its config's), so a run resumed with another ``--lr`` continues at that rate."""
        for net, key in zip(self.networks(), ("generator", "discriminator")):
            net.load_state_dict(state[key])
        for opt, key in ((self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
            rates = [group["lr"] for group in opt.param_groups]
            opt.load_state_dict(state[key])
            for group, lr in zip(opt.param_groups, rates):
                group["lr"] = lr
        if self.ema is not None:  # switched on at a resume: the average starts from the live weights
            self.ema.load_state_dict(state.get("generator_ema", state["generator"]))
        self.step, self.train_seconds = int(state["step"]), float(state["train"]["seconds"])


class PeerSegmenter:
    """What every peer's segmenter reads from its checkpoint: the training record and the labels it used;
    a peer's checkpoint records no refinement, so its maps are upsampled bilinearly unless asked."""

    state: dict
    segment = SegmentConfig()

    @property
    def train(self) -> dict:
        return self.state.get("train", {})

    @property
    def labels(self) -> str:
        return self.train.get("labels", "none")


def load_peer(source, method: str, config_cls, generator_cls, discriminator_cls, device="cpu"):
    """(config, generator, discriminator, state) of a ``method`` checkpoint (a path or a ``Checkpoint``),
    networks in eval mode."""
    state = load_checkpoint(source, map_location=device)
    path = state.path
    require_method(state, path, method)
    cfg = config_cls(**state["config"])
    generator, discriminator = generator_cls(cfg).to(device), discriminator_cls(cfg).to(device)
    load_weights(generator, evaluated_weights(state, "generator"), path, f"{method} generator")
    load_weights(discriminator, state["discriminator"], path, f"{method} discriminator")
    return cfg, generator.eval(), discriminator.eval(), state


def train_peer(trainer, iterations: int, out, resume: bool = False, checkpoint_every: int = 200, progress: bool = True):
    """Run a peer's trainer to ``iterations`` steps in the run folder ``out`` with the kit's training
    loop: ``checkpoint.pt`` (atomic, every ``checkpoint_every`` steps, at the end and on SIGTERM) and
    ``metrics.jsonl``; ``resume`` continues the folder's checkpoint exactly. ``trainer.stop_signal`` is
    the signal that stopped it early, or None."""
    from vosgan.training.loop import Checkpointer, MetricsLog, fit
    from vosgan.training.runs import prepare_run_folder, truncate_log

    out = Path(out)
    path = prepare_run_folder(out, resume)
    log = out / "metrics.jsonl"
    if resume:
        state = load_checkpoint(path, trainer.device)
        require_method(state, path, trainer.method)
        trainer.load_state_dict(state)
        truncate_log(log, trainer.step)
    else:
        log.unlink(missing_ok=True)
    desc = type(trainer).__name__.removesuffix("Trainer")
    fit(trainer, iterations, [MetricsLog(log), Checkpointer(path, checkpoint_every)], progress, desc)
    return trainer
