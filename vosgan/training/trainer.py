"""The trainer: alternate a discriminator step (Eq. 2) and a generator step (Eq. 3).

Small on purpose: ``d_step``, ``g_step``, a loop and callbacks. Checkpoint files, logging,
sample grids (``vosgan.training.callbacks``) and process groups (``vosgan.training.distributed``) live elsewhere.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from vosgan.config import VOSGANConfig
from vosgan.data.datasets import make_loader
from vosgan.data.flow import batch_flow, flow_to_target
from vosgan.device import autocast, resolve_precision
from vosgan.models import Discriminator, DiscriminatorOutput, Generator, GeneratorOutput
from vosgan.models.checkpoint import (
    CheckpointError,
    check_config,
    checkpoint_state,
    is_export,
    load_weights,
    nonfinite_tensors,
    require_method,
)
from vosgan.models.latent import sample_latents
from vosgan.training.augment import (
    DiffAugment,
    add_static_decoy,
    camouflage_foreground,
    glide_foreground,
    paste_on_backgrounds,
    shift_foreground,
    temporal_median,
)
from vosgan.training.distributed import DistInfo, all_finite
from vosgan.training.loop import Callback, fit
from vosgan.training.losses import alpha_at, discriminator_loss, generator_loss, r1_penalty
from vosgan.training.optim import EMA, make_optimizer


class TrainingDiverged(RuntimeError):
    """Raised after too many consecutive steps with non-finite losses, or when a run ends with weights
    that are not finite (so its end was not saved)."""


def _unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if isinstance(module, DDP) else module


class Trainer:
    """Trains a generator/discriminator pair on a ``ClipDataset``.

    ``seed`` fixes initial weights (identical on every process), the data order of each epoch and
    the latents; on the CPU the same seed gives the same run, and ``load_state_dict`` resumes it
    exactly.
    """

    def __init__(
        self,
        cfg: VOSGANConfig,
        dataset,
        dist: DistInfo,
        seed: int = 0,
        workers: int = 0,
        max_bad_steps: int = 20,
    ):
        self.cfg, self.dataset, self.dist, self.seed, self.workers = cfg, dataset, dist, seed, workers
        self.device = dist.device
        with torch.random.fork_rng(devices=[]):  # the seed fixes the weights, the process's RNG is left alone
            torch.manual_seed(seed)  # same initial weights on every process
            generator, discriminator = Generator(cfg).to(self.device), Discriminator(cfg).to(self.device)
        if dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            generator = DDP(generator, device_ids=ids)
            discriminator = DDP(discriminator, device_ids=ids)
        self.generator, self.discriminator = generator, discriminator
        t = cfg.train
        self.opt_g = make_optimizer(generator.parameters(), t, t.lr_g)
        self.opt_d = make_optimizer(discriminator.parameters(), t, t.lr_d)
        self.latent_rng = torch.Generator().manual_seed(seed * 1_000_003 + dist.rank)
        self.aug_rng = torch.Generator().manual_seed(seed * 1_000_033 + 7 + dist.rank)
        self.augment = DiffAugment(cfg.augment.diffaugment)
        self._backgrounds: torch.Tensor | None = None  # real backgrounds of the current step (real_background)
        self.ema = EMA(self.G, t.ema) if t.ema else None
        self.ema_d = EMA(self.D, t.ema_d, average_buffers=True) if t.ema_d else None
        self.step = 0
        self.bad_steps = 0  # consecutive steps with a skipped update
        self.skipped_steps = 0  # skipped updates in total
        self.train_seconds = 0.0  # seconds spent in training steps, summed over every resumed piece
        self.init_record: dict | None = None  # the checkpoint a run started from (--init), if any
        self.max_bad_steps = max_bad_steps
        self.precision = resolve_precision(t.precision, self.device)  # 'bf16' or 'fp32', as run
        self.steps_per_epoch = len(dataset) // (t.batch_size * dist.world_size)
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"dataset of {len(dataset)} clips is smaller than one batch "
                f"of {t.batch_size} x {dist.world_size} processes"
            )
        self.stop_signal: int | None = None  # the signal that ended the last ``fit`` early, if any
        self.last_good: tuple[str, int] | None = None  # (path, step) of the last checkpoint with finite weights

    # ----------------------------------------------------------------------------- properties
    @property
    def G(self) -> Generator:
        return _unwrap(self.generator)

    @property
    def D(self) -> Discriminator:
        return _unwrap(self.discriminator)

    @property
    def G_samples(self) -> Generator:
        """The generator for samples, snapshots and evaluation: the EMA copy when there is one."""
        return self.ema.shadow if self.ema is not None else self.G

    @property
    def D_samples(self) -> Discriminator:
        """The discriminator for samples, snapshots and evaluation: the EMA copy when there is one."""
        return self.ema_d.shadow if self.ema_d is not None else self.D

    @property
    def epoch(self) -> int:
        return self.step // self.steps_per_epoch

    @property
    def alpha(self) -> float:
        return alpha_at(self.epoch, self.cfg.loss)

    # ---------------------------------------------------------------------------------- steps
    def _latents(self) -> tuple[torch.Tensor, torch.Tensor]:
        z_c, z_m = sample_latents(self.cfg, self.cfg.train.batch_size, self.latent_rng, self.device)
        if self.cfg.loss.mode_seeking_motion:  # pairs (i, i + B/2) share z_C: only z_M differs
            half = len(z_c) // 2
            z_c = torch.cat([z_c[:half], z_c[:half], z_c[2 * half :]])
        return z_c, z_m

    def _generate(self, for_d: bool = False) -> tuple[GeneratorOutput, torch.Tensor, torch.Tensor]:
        """A generated batch, perturbed by the foreground shift and glide when they are on, and its latents;
        ``for_d``: the discriminator's batch, which also gets the camouflage."""
        z_c, z_m = self._latents()
        fake = self.generator(z_c, z_m)
        if self.cfg.augment.real_background and self._backgrounds is not None:
            fake = paste_on_backgrounds(fake, self._backgrounds, self.cfg.augment.real_background, self.aug_rng)
        if for_d and self.cfg.augment.camouflage:  # the generator is never asked to make camouflaged objects
            fake = camouflage_foreground(fake, self.cfg.augment.camouflage, self.aug_rng)
        if self.cfg.augment.shift:
            fake = shift_foreground(fake, self.cfg.augment.shift, self.aug_rng)
        if self.cfg.augment.glide:
            fake = glide_foreground(fake, self.cfg.augment.glide, self.aug_rng)
        return fake, z_c, z_m

    def d_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One discriminator update on Eq. 2 with a real batch and a fresh generated batch."""
        c, aug = self.cfg.loss, self.cfg.augment
        real = batch["video"].to(self.device, non_blocking=True)
        if aug.real_background:  # this step's real backgrounds, for its D and G steps
            self._backgrounds = temporal_median(real)
        with torch.no_grad(), autocast(self.device, self.precision):
            fake, _, _ = self._generate(for_d=True)
            if aug.static_decoy:  # D's fakes only: the generator is never asked to make decoys
                fake = add_static_decoy(fake, aug.static_decoy, self.aug_rng)
        t0 = time.perf_counter()
        fake_flow = batch_flow(fake.video.float()) if c.flow else None
        real_flow = batch["flow"].to(self.device) if c.flow else None
        flow_seconds = time.perf_counter() - t0
        fake_video, mask = fake.video.detach(), fake.mask.detach()
        if self.augment:  # the same draw for a clip's input and its dense targets
            real, real_geo = self.augment(real, self.aug_rng)
            fake_video, fake_geo = self.augment(fake_video, self.aug_rng)
            mask = fake_geo.apply(mask)
            if c.flow:
                fake_flow, real_flow = fake_geo.apply(fake_flow), real_geo.apply(real_flow)
        if c.flow:
            fake_flow = flow_to_target(fake_flow, c.flow_max_fraction)
            real_flow = flow_to_target(real_flow, c.flow_max_fraction)
        real.requires_grad_(bool(c.r1))
        with autocast(self.device, self.precision):
            d_real: DiscriminatorOutput = self.discriminator(real)
            d_fake: DiscriminatorOutput = self.discriminator(fake_video)
        r1 = r1_penalty(d_real.logit, real) if c.r1 else None
        loss = discriminator_loss(d_real, d_fake, mask, fake_flow, real_flow, self.alpha, c, r1)
        ok = self._update(self.opt_d, loss.total)
        if ok and self.ema_d is not None:
            self.ema_d.update(self.D)
        return {
            **loss.items(),
            "real_score": d_real.real_score.mean().item(),
            "fake_score": d_fake.real_score.mean().item(),
            "mask_mean": fake.mask.float().mean().item(),
            "flow_seconds": flow_seconds,
            "d_ok": ok,
        }

    def g_step(self) -> dict[str, float]:
        """One generator update on Eq. 3 and the switched-on mask terms (D's gradients are discarded)."""
        # The discriminator is used unwrapped and frozen: only the generator's gradients are
        # needed (and synchronised), and DDP would otherwise wait for the unused motion stream.
        self.D.requires_grad_(False)
        try:
            with autocast(self.device, self.precision):
                fake, z_c, z_m = self._generate()
                video = fake.video
                if self.augment:
                    video, _ = self.augment(video, self.aug_rng)
                d_fake = self.D(video)
            loss = generator_loss(d_fake, fake, z_c, z_m, self.cfg.loss)
            ok = self._update(self.opt_g, loss.total)
        finally:
            self.D.requires_grad_(True)
        if ok and self.ema is not None:
            self.ema.update(self.G)
        return {**loss.items(), "g_ok": ok}

    def _buffers(self) -> list[torch.Tensor]:
        """Both networks' buffers (BatchNorm statistics), which forward passes in training mode update."""
        return [*self.G.buffers(), *self.D.buffers()]

    def diverged(self, what: str) -> TrainingDiverged:
        """The error that ends a run that cannot go on: ``what`` happened, and where to start again."""
        last = (
            f"the last checkpoint with finite weights is {self.last_good[0]} (step {self.last_good[1]}): "
            "resume it with a lower learning rate"
            if self.last_good
            else "no checkpoint with finite weights was written: lower the learning rate and start again"
        )
        return TrainingDiverged(f"{what} (step {self.step}); {last}")

    def _update(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> bool:
        """Backward and step, unless the loss is non-finite on any process: then skip and count."""
        optimizer.zero_grad(set_to_none=True)
        if not all_finite(loss, self.dist):
            self.skipped_steps += 1
            return False
        loss.backward()
        optimizer.step()
        return True

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """A discriminator step then ``cfg.train.g_steps`` generator steps; returns the step's metrics
        (those of the last generator step)."""
        t0 = time.perf_counter()
        self.generator.train()
        self.discriminator.train()
        buffers = [b.clone() for b in self._buffers()]
        metrics = self.d_step(batch)
        g_ok = True
        for _ in range(self.cfg.train.g_steps):
            g_metrics = self.g_step()
            g_ok = g_ok and g_metrics["g_ok"]
        metrics.update(g_metrics, g_ok=g_ok)
        self.step += 1
        # Divergence guard: a step with any skipped update extends the streak, a clean one ends it.
        self.bad_steps = 0 if metrics["d_ok"] and metrics["g_ok"] else self.bad_steps + 1
        if self.bad_steps:  # a skipped step's forward passes may have left NaN BatchNorm statistics: undo them
            for saved, buffer in zip(buffers, self._buffers(), strict=True):
                buffer.copy_(saved)
        if self.bad_steps >= self.max_bad_steps:
            raise self.diverged(f"{self.bad_steps} consecutive steps had non-finite losses")
        seconds = time.perf_counter() - t0
        self.train_seconds += seconds
        clips = self.cfg.train.batch_size * self.dist.world_size
        return {
            "step": self.step,
            "epoch": self.epoch,
            "alpha": self.alpha,
            **metrics,
            "seconds": seconds,
            "clips_per_s": clips / seconds,
            "skipped_steps": self.skipped_steps,
            "precision": self.precision,
        }

    # ----------------------------------------------------------------------------------- loop
    def fit(self, iterations: int, callbacks: list[Callback] = (), progress: bool = True) -> list[dict[str, Any]]:
        """Train until ``self.step == iterations`` (``vosgan.training.loop.fit``); Ctrl-C or SIGTERM stop
        after the current step, and ``on_end`` callbacks (e.g. the checkpointer) still run."""
        return fit(self, iterations, callbacks, progress)

    def steps(self):
        """One training step per item, endlessly, epoch after epoch; yields each step's figures."""
        while True:
            for batch in self._loader():
                yield self.train_step(batch)

    def summary(self, figures: dict[str, Any]) -> dict[str, str]:
        """What the progress bar shows of a step."""
        return {
            "d": f"{figures['d_loss']:.3f}",
            "g": f"{figures['g_loss']:.3f}",
            "clips_s": f"{figures['clips_per_s']:.1f}",
        }

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def _loader(self):
        """The rest of the current epoch's batches (the order depends on the seed and the epoch only)."""
        return make_loader(
            self.dataset,
            self.cfg.train.batch_size,
            seed=self.seed,
            epoch=self.epoch,
            skip_batches=self.step % self.steps_per_epoch,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            workers=self.workers,
        )

    # ----------------------------------------------------------------------------- state
    def weights_finite(self) -> bool:
        """True when every parameter and buffer of both networks (and their EMA copies) is finite."""
        modules = [self.G, self.D] + [e.shadow for e in (self.ema, self.ema_d) if e is not None]
        return not any(nonfinite_tensors(m.state_dict()) for m in modules)

    @property
    def train_record(self) -> dict[str, Any]:
        """What ``vosgan compare`` reports as training cost: steps, seconds in training steps (every
        resumed piece summed; evaluation and checkpoint writes left out), seed."""
        record = {"steps": self.step, "seconds": self.train_seconds, "seed": self.seed, "precision": self.precision}
        return {**record, "init": self.init_record} if self.init_record else record

    def state_dict(self) -> dict[str, Any]:
        return checkpoint_state(
            "vosgan",
            self.cfg,
            self.G,
            self.D,
            opt_g=self.opt_g.state_dict(),
            opt_d=self.opt_d.state_dict(),
            step=self.step,
            skipped_steps=self.skipped_steps,
            seed=self.seed,
            train=self.train_record,
            latent_rng=self.latent_rng.get_state(),
            aug_rng=self.aug_rng.get_state(),
            **({"generator_ema": self.ema.state_dict()} if self.ema is not None else {}),
            **({"discriminator_ema": self.ema_d.state_dict()} if self.ema_d is not None else {}),
            torch_rng=torch.get_rng_state(),
        )

    def load_state_dict(self, state: dict[str, Any], path: str = "checkpoint") -> None:
        """Resume from ``state``; refuses another method's checkpoint, another model geometry, an export,
        or NaN weights."""
        require_method(state, path, "vosgan")
        if is_export(state):
            raise CheckpointError(
                f"{path} is a weights-only export (no optimizer or RNG state) and cannot resume training; "
                "resume the run folder's checkpoint.pt, or start a new run folder"
            )
        check_config(state["config"], self.cfg, path)
        load_weights(self.G, state["generator"], path, "generator")
        load_weights(self.D, state["discriminator"], path, "discriminator")
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        self.skipped_steps = int(state["skipped_steps"])
        self.train_seconds = float(state.get("train", {}).get("seconds", 0.0))  # older checkpoints: from 0
        self.init_record = state.get("train", {}).get("init")
        self.latent_rng.set_state(state["latent_rng"])
        if "aug_rng" in state:
            self.aug_rng.set_state(state["aug_rng"])
        if self.ema is not None:
            self.ema.load_state_dict(state.get("generator_ema", self.G.state_dict()))
        if self.ema_d is not None:  # switched on at a resume: the average starts from the live weights
            self.ema_d.load_state_dict(state.get("discriminator_ema", self.D.state_dict()))
        torch.set_rng_state(state["torch_rng"])
