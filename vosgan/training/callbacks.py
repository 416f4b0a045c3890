"""Trainer callbacks: the notebook or CLI, not the trainer, decides what to log, draw and save."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vosgan.data.io import read_jsonl

if TYPE_CHECKING:
    from vosgan.training.trainer import Trainer


class Callback:
    """Hooks called by ``Trainer.fit``; override what you need."""

    def on_step(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        pass

    def on_end(self, trainer: Trainer) -> None:
        pass


class ProgressBar(Callback):
    """A tqdm bar up to ``iterations`` with the losses and clips/s of the last step."""

    def __init__(self, iterations: int):
        self.iterations, self.bar = iterations, None

    def on_step(self, trainer, metrics):
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=self.iterations, initial=trainer.step - 1, desc="training")
        self.bar.update(1)
        self.bar.set_postfix(
            d=f"{metrics['d_loss']:.3f}", g=f"{metrics['g_loss']:.3f}", clips_s=f"{metrics['clips_per_s']:.1f}"
        )

    def on_end(self, trainer):
        if self.bar is not None:
            self.bar.close()


class MetricsLog(Callback):
    """One JSON line per step (appends, so a resumed run continues the same file)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def on_step(self, trainer, metrics):
        if trainer.dist.is_main:
            with self.path.open("a") as f:
                f.write(json.dumps(metrics) + "\n")


class Checkpointer(Callback):
    """Saves ``trainer.state_dict()`` every ``every`` steps and at the end (also after Ctrl-C / SIGTERM)."""

    def __init__(self, path: str | os.PathLike, every: int = 100):
        self.path, self.every = Path(path), every

    def save(self, trainer: Trainer) -> None:
        """Write the checkpoint, unless the weights are no longer finite: then the last good one stays."""
        from vosgan.models.checkpoint import save_checkpoint

        if not trainer.dist.is_main:
            return
        if not trainer.weights_finite():
            kept = f"{self.path} (step {trainer.last_good[1]})" if trainer.last_good else "no earlier checkpoint"
            print(f"step {trainer.step}: weights are not finite; not saved, the last good checkpoint is {kept}")
            return
        save_checkpoint(self.path, trainer.state_dict())
        trainer.last_good = (str(self.path), trainer.step)

    def on_step(self, trainer, metrics):
        if self.every and trainer.step % self.every == 0:
            self.save(trainer)

    def on_end(self, trainer):
        self.save(trainer)


class SampleGrid(Callback):
    """Every ``every`` steps, a PNG of fixed latents: all generator streams, D's segmentation and flow."""

    def __init__(self, folder: str | os.PathLike, every: int = 200, count: int = 4, seed: int = 0):
        self.folder, self.every, self.count, self.seed = Path(folder), every, count, seed

    def on_step(self, trainer, metrics):
        if not (self.every and trainer.step % self.every == 0 and trainer.dist.is_main):
            return
        from vosgan.models.sampling import samples
        from vosgan.viz.frames import save_streams_figure

        # The same seed every time: the grids of one run show the same latents improving. The
        # trainer puts both networks back in training mode at its next step.
        drawn = samples(trainer.G_samples, trainer.D_samples, self.count, self.seed)
        save_streams_figure(
            drawn.generated,
            drawn.discriminator,
            self.folder / f"samples_{trainer.step:07d}.png",
            title=f"step {trainer.step}",
        )


class SegmenterMonitor(Callback):
    """Every ``every`` steps and at the end: the real-clip evaluation of the run (``evaluation``, a
    ``vosgan.segmentation.evaluation.SegmenterEvaluation`` on the val split) appended to ``folder/evaluation.jsonl``;
    the snapshot with the best val J so far is kept as ``folder/best.pt`` (weights only, with its scores).
    """

    def __init__(self, folder: str | os.PathLike, every: int, evaluation):
        self.folder, self.every, self.evaluation = Path(folder), every, evaluation
        self.path = self.folder / "evaluation.jsonl"
        rows = read_jsonl(self.path) if self.path.exists() else []  # a resumed run continues the log
        self.best = max((r["J"] for r in rows), default=-1.0)
        self.last_step = rows[-1]["step"] if rows else -1

    def evaluate(self, trainer: Trainer) -> dict[str, Any]:
        from vosgan.models.checkpoint import model_state, save_checkpoint

        discriminator = trainer.D_samples
        if trainer.cfg.train.bn_clips:
            from vosgan.training.recalibrate import recalibrate_batchnorm

            discriminator = recalibrate_batchnorm(
                discriminator, trainer.dataset, trainer.cfg.train.bn_clips, seed=trainer.seed
            )
        scores = {"step": trainer.step, **self.evaluation(trainer.G_samples, discriminator)}
        with self.path.open("a") as f:
            f.write(json.dumps(scores) + "\n")
        if scores["J"] > self.best:
            self.best = scores["J"]
            state = model_state(
                trainer.cfg,
                trainer.G_samples,
                discriminator,
                step=trainer.step,
                train=trainer.train_record,
                scores=scores,
            )
            save_checkpoint(self.folder / "best.pt", state)
        self.last_step = trainer.step
        return scores

    def on_step(self, trainer, metrics):
        if trainer.dist.is_main and self.every and trainer.step % self.every == 0:
            s = self.evaluate(trainer)
            print(
                f"step {s['step']}: val J {s['J']:.3f} F {s['F']:.3f} (frozen J {s['J_frozen']:.3f}, flow baseline "
                f"{s['J_flow_baseline']:.3f}), flow EPE {s['flow_epe']:.3f} vs zero {s['flow_epe_zero']:.3f}, "
                f"z_M/z_C mask change {s.get('zm_mask', 0):.3f}/{s.get('zc_mask', 0):.3f}; G's objects travel "
                f"{s.get('motion_travel', 0):.2f} px/frame (data {s.get('motion_data_travel', 0):.2f}), "
                f"{100 * s.get('motion_swelling', 0):.0f}% swell (data {100 * s.get('motion_data_swelling', 0):.0f}%), "
                f"z_M/z_C displacement contrast {s.get('motion_latent_contrast', 0):.2f}",
                flush=True,
            )

    def on_end(self, trainer):
        if trainer.dist.is_main and trainer.step != self.last_step:
            self.evaluate(trainer)


class ThreadTuner(Callback):
    """Keeps the faster of ``max_threads`` and one intra-op thread, re-measured every ``every`` steps.

    On a 2-core machine a training step with 2 threads slowed 3.6x beside one busy process (spinning
    OpenMP threads wait for a core), while one thread did not slow at all (benchmarks/bench_contention.py).
    Every ``every`` steps the other setting runs for ``probe`` steps; the one with the lower median step
    time is kept. The thread count of each step is logged (``threads``). Results can differ in the last
    digits between thread counts: pin one (``--threads N``) for bit-exact reruns.
    """

    def __init__(self, max_threads: int, every: int = 200, probe: int = 3):
        self.max_threads, self.every, self.probe = max_threads, every, probe
        self.current = max_threads
        self.times: dict[int, list[float]] = {max_threads: [], 1: []}
        self.probing_until = -1

    def on_step(self, trainer, metrics):
        import statistics

        import torch

        metrics["threads"] = torch.get_num_threads()
        self.times.setdefault(metrics["threads"], []).append(metrics["seconds"])
        if self.max_threads <= 1:
            return
        step = trainer.step
        if step == self.probing_until:  # the probe is over: keep the faster setting
            recent = {n: statistics.median(t[-self.probe :]) for n, t in self.times.items() if t}
            self.current = min(recent, key=recent.get)
            torch.set_num_threads(self.current)
        elif step % self.every == 0 and step > 0:
            other = 1 if self.current == self.max_threads else self.max_threads
            torch.set_num_threads(other)
            self.probing_until = step + self.probe
