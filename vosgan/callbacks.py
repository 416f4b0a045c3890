"""Trainer callbacks: the notebook or CLI, not the trainer, decides what to log, draw and save."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vosgan.train import Trainer


class Callback:
    """Hooks called by ``Trainer.fit``; override what you need."""

    def on_step(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        pass

    def on_end(self, trainer: Trainer) -> None:
        pass


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
        from vosgan.checkpoint import save_checkpoint

        if trainer.dist.is_main:
            save_checkpoint(self.path, trainer.state_dict())

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
        from vosgan.explore import samples
        from vosgan.viz import save_streams_figure

        # The same seed every time: the grids of one run show the same latents improving. The
        # trainer puts both networks back in training mode at its next step.
        outputs = samples(trainer.G, trainer.D, self.count, self.seed)
        save_streams_figure(*outputs, self.folder / f"samples_{trainer.step:07d}.png", title=f"step {trainer.step}")
