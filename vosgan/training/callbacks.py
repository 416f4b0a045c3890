"""The GAN trainer's own callbacks (sample grids, evaluation of the segmenter during training, thread
tuning); the loop and the callbacks every trainer shares are in ``vosgan.training.loop``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vosgan.data.io import read_jsonl
from vosgan.training.loop import Callback

if TYPE_CHECKING:
    from vosgan.training.trainer import Trainer  # annotations only


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
        from vosgan.models.checkpoint import checkpoint_state, save_checkpoint

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
            state = checkpoint_state(
                "vosgan",
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
