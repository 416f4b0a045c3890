"""A training run as a folder: ``checkpoint.pt``, ``config.json``, ``metrics.jsonl``, ``samples/`` and,
with the real-clip evaluation, ``evaluation.jsonl`` and ``best.pt``. Checks the folder before any long
work, resumes it, and wires the callbacks; the CLI and notebook 03 call ``run_training``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import warnings
from pathlib import Path

import torch

from vosgan.config import VOSGANConfig
from vosgan.training.loop import Callback
from vosgan.training.trainer import Trainer


def run_training(
    cfg: VOSGANConfig,
    dataset,
    out: str | Path,
    iterations: int | None = None,
    seed: int = 0,
    device: str = "auto",
    resume: bool = False,
    checkpoint_every: int = 200,
    sample_every: int = 500,
    callbacks: list[Callback] = (),
    workers: int = 0,
    progress: bool = True,
    evaluate_every: int = 0,
    threads: int | None = None,
    init: str | os.PathLike | None = None,
) -> Trainer:
    """Train into ``out`` (``checkpoint.pt``, ``metrics.jsonl``, ``samples/``); the CLI and notebooks call this.

    ``iterations`` defaults to the preset's epochs (25 in the paper) over this dataset.
    ``threads`` pins the intra-op threads; None adapts them to the machine's load (``ThreadTuner``).
    ``evaluate_every`` > 0 adds the real-clip evaluation (``vosgan.training.callbacks.SegmenterMonitor``, val
    split of the embedded benchmark): ``evaluation.jsonl`` and ``best.pt`` (best val J) in ``out``.

    An existing checkpoint is continued with ``resume=True`` and never silently overwritten. ``init``
    starts a new run from another checkpoint's weights (``vosgan.models.checkpoint.init_from``).
    """
    from vosgan.training.distributed import setup_distributed

    if iterations is not None and iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    if init is not None and resume:
        raise ValueError("init starts a new run from another checkpoint's weights; a resumed run keeps its own")
    out = Path(out)
    path = prepare_run_folder(out, resume)
    dist = setup_distributed(device)
    with run_lock(out) if dist.is_main else contextlib.nullcontext():
        if not resume and dist.is_main:  # logs of a run killed before its first checkpoint: this one starts at 1
            for log in ("metrics.jsonl", "evaluation.jsonl"):
                if (out / log).is_file():
                    (out / log).unlink()
                    print(f"removed {out / log}, left by a run that stopped before its first checkpoint")
        trainer = Trainer(cfg, dataset, dist, seed=seed, workers=workers)
        if init is not None:
            _start_from(trainer, init)
        if resume:
            _continue(trainer, path)
        if dist.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
            print(
                f"training {cfg.name} on {dist.device} ({trainer.precision}) x {dist.world_size} process(es), "
                f"{len(dataset)} clips"
            )
        cbs = _callbacks(trainer, path, sample_every, checkpoint_every, evaluate_every, threads, callbacks)
        trainer.fit(
            cfg.train.epochs * trainer.steps_per_epoch if iterations is None else iterations, cbs, progress=progress
        )
        if dist.is_main and trainer.last_good != (str(path), trainer.step):  # the Checkpointer refused
            raise trainer.diverged(f"the weights are not finite, so {path} does not hold the run's end")
        if trainer.stop_signal is not None and dist.is_main:
            print(
                f"stopped by {signal.Signals(trainer.stop_signal).name} at step {trainer.step}; checkpoint saved to "
                f"{path}; continue with the same command and --resume",
                flush=True,
            )
        return trainer


def _start_from(trainer: Trainer, init: str | os.PathLike) -> None:
    """A new run from another checkpoint's weights (``init_from``), said on the main process."""
    from vosgan.models.checkpoint import init_from

    fresh = init_from(trainer, init)
    if trainer.is_main:
        print(f"started from the weights of {init}" + (f"; new layers: {len(fresh)} tensors" if fresh else ""))


def _continue(trainer: Trainer, path: Path) -> None:
    """Resume the run folder's checkpoint: drop log lines written after its step, warn about settings
    that differ from the ones it was trained with."""
    from vosgan.models.checkpoint import resume_from

    changed = resume_from(trainer, path)
    if not trainer.is_main:
        return
    print(f"resumed {path} at step {trainer.step}")
    for log in ("metrics.jsonl", "evaluation.jsonl"):
        dropped = truncate_log(path.parent / log, trainer.step)
        if dropped:
            print(f"dropped {dropped} line(s) of {log} written after the checkpoint's step {trainer.step}")
    if changed:
        warnings.warn(
            f"{path} was trained with other loss/training settings than this run continues with: "
            + "; ".join(changed)
            + ". Use the same options to continue it unchanged, or start a new run folder.",
            stacklevel=3,
        )


def _callbacks(
    trainer: Trainer,
    path: Path,
    sample_every: int,
    checkpoint_every: int,
    evaluate_every: int,
    threads: int | None,
    extra: list[Callback],
) -> list[Callback]:
    """The run folder's callbacks in order: thread tuning (CPU, unless ``threads`` pins them), the metrics
    log, sample grids, ``extra``, the real-clip evaluation, and the checkpointer last (it saves after
    the others ran)."""
    from vosgan.training.callbacks import SampleGrid
    from vosgan.training.loop import Checkpointer, MetricsLog

    out = path.parent
    cbs = [MetricsLog(out / "metrics.jsonl"), SampleGrid(out / "samples", sample_every, seed=trainer.seed), *extra]
    if threads:
        torch.set_num_threads(threads)
    elif trainer.device.type == "cpu":
        from vosgan.training.callbacks import ThreadTuner

        cbs.insert(0, ThreadTuner(torch.get_num_threads()))
    if evaluate_every and trainer.is_main:
        from vosgan.segmentation.evaluation import SegmenterEvaluation
        from vosgan.training.callbacks import SegmenterMonitor

        cbs.append(SegmenterMonitor(out, evaluate_every, SegmenterEvaluation("val")))
    return [*cbs, Checkpointer(path, checkpoint_every)]


def prepare_run_folder(out: Path, resume: bool) -> Path:
    """Check a run folder before any long work: writable, a checkpoint to resume (``resume``) or none to
    overwrite (not ``resume``); removes temporary files an interrupted save left. Returns the checkpoint path."""
    from vosgan.data.io import ensure_writable_folder
    from vosgan.models.checkpoint import remove_partial_writes

    path = out / "checkpoint.pt"
    if resume and not path.is_file():
        raise FileNotFoundError(f"nothing to resume: {path} does not exist; drop --resume to start a new run there")
    if path.exists() and not resume:
        raise FileExistsError(f"{path} exists: pass resume=True (--resume) to continue it, or choose another folder")
    ensure_writable_folder(out, "the run folder")
    for stale in remove_partial_writes(out):
        print(f"removed {stale.name}, left by an interrupted checkpoint write")
    return path


@contextlib.contextmanager
def run_lock(out: Path):
    """Hold ``out/.lock`` (an advisory lock, released when the process ends however it ends) while a run
    writes into ``out``; a second run into the same folder is refused, naming the first one's process."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise RuntimeError(
                f"{out} is in use by another training run ({owner}); wait for it, or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def truncate_log(path: Path, step: int) -> int:
    """Keep the JSON lines of ``path`` up to ``step`` (those a resumed run will not write again);
    returns how many were dropped (a crash between a log line and the checkpoint leaves some)."""
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    keep = []
    for line in lines:
        try:
            if json.loads(line)["step"] <= step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a half-written last line
    if len(keep) != len(lines):
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, path)
    return len(lines) - len(keep)


def train_once(
    cfg,
    dataset,
    folder: str | Path,
    iterations: int,
    seed: int = 0,
    device: str = "auto",
    progress: bool = False,
    threads: int | None = None,
) -> Path:
    """Train into ``folder`` unless it holds a finished run (``DONE``), continuing a run cut short;
    ``dataset`` is a callable, so a finished run costs no data. Returns its ``checkpoint.pt``.
    The experiments that train many GANs (Table 4, Fig. 8) call this, so re-running them only scores."""
    folder = Path(folder)
    path = folder / "checkpoint.pt"
    if not (folder / "DONE").exists():
        run_training(
            cfg,
            dataset(),
            folder,
            iterations,
            seed,
            device=device,
            checkpoint_every=0,
            sample_every=0,
            progress=progress,
            threads=threads,
            resume=path.exists(),
        )
        (folder / "DONE").touch()
    return path
