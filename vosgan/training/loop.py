"""One training loop for every trainer of the kit, the GAN's (``vosgan.training.trainer``) and the
peers' (``vosgan.peers.common``): steps up to a count, callbacks that log and save, and Ctrl-C or
SIGTERM stopping cleanly after the current step.

A trainer has ``step`` (steps done), ``train_seconds`` (seconds spent in steps, every resumed piece
summed), ``stop_signal``, ``is_main`` (False on the other processes of a DDP run), ``last_good``,
``state_dict()``, ``weights_finite()``, ``summary(figures)`` (what the progress bar shows) and
``steps()``: an endless iterator that takes one training step per item and yields its figures
(a dict with ``step``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any


class Callback:
    """Hooks called by ``fit``; override what you need."""

    def on_step(self, trainer, figures: dict[str, Any]) -> None:
        pass

    def on_end(self, trainer) -> None:
        pass


class ProgressBar(Callback):
    """A tqdm bar up to ``iterations`` with what ``trainer.summary`` makes of the last step."""

    def __init__(self, iterations: int, desc: str = "training"):
        self.iterations, self.desc, self.bar = iterations, desc, None

    def on_step(self, trainer, figures):
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=self.iterations, initial=trainer.step - 1, desc=self.desc)
        self.bar.update(1)
        self.bar.set_postfix(trainer.summary(figures), refresh=False)

    def on_end(self, trainer):
        if self.bar is not None:
            self.bar.close()


class MetricsLog(Callback):
    """One JSON line per step, flushed (``tail -f`` works); appends, so a resumed run continues the file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def on_step(self, trainer, figures):
        if trainer.is_main:
            with self.path.open("a") as f:
                f.write(json.dumps(figures) + "\n")


class Checkpointer(Callback):
    """Saves ``trainer.state_dict()`` atomically every ``every`` steps and at the end (also after Ctrl-C
    or SIGTERM); a trainer whose weights are no longer finite keeps its last good checkpoint."""

    def __init__(self, path: str | os.PathLike, every: int = 100):
        self.path, self.every = Path(path), every

    def save(self, trainer) -> None:
        from vosgan.models.checkpoint import save_checkpoint

        if not trainer.is_main:
            return
        if not trainer.weights_finite():
            kept = f"{self.path} (step {trainer.last_good[1]})" if trainer.last_good else "no earlier checkpoint"
            print(f"step {trainer.step}: weights are not finite; not saved, the last good checkpoint is {kept}")
            return
        save_checkpoint(self.path, trainer.state_dict())
        trainer.last_good = (str(self.path), trainer.step)

    def on_step(self, trainer, figures):
        if self.every and trainer.step % self.every == 0:
            self.save(trainer)

    def on_end(self, trainer):
        if trainer.last_good != (str(self.path), trainer.step):  # not written twice for the same step
            self.save(trainer)


@contextlib.contextmanager
def stop_on_signals(trainer):
    """While inside, SIGINT and SIGTERM ask ``trainer`` to stop after its current step (recorded in
    ``trainer.stop_signal``); the previous handlers come back on exit. Outside the main thread (a
    notebook worker) there are no handlers to set."""
    trainer.stop_signal = None

    def request_stop(signum, frame):
        trainer.stop_signal = signum

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for s in previous:
            signal.signal(s, request_stop)
    except ValueError:
        previous = {}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def fit(trainer, iterations: int, callbacks=(), progress: bool = True, desc: str = "training") -> list[dict]:
    """Train until ``trainer.step == iterations`` or a signal stops it; every callback's ``on_end``
    (the checkpointer's last save) runs however the loop ends. Returns each step's figures."""
    history = []
    callbacks = [*callbacks]
    if progress and trainer.is_main:
        callbacks.insert(0, ProgressBar(iterations, desc))
    with stop_on_signals(trainer):
        try:
            steps = trainer.steps() if trainer.step < iterations else ()
            for figures in steps:
                history.append(figures)
                for cb in callbacks:
                    cb.on_step(trainer, figures)
                if trainer.step >= iterations or trainer.stop_signal is not None:
                    break
        finally:
            for cb in callbacks:
                cb.on_end(trainer)
    return history
