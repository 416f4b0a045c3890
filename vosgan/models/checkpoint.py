"""The one checkpoint format of every method (VOS-GAN, CIS, FaSTGAN): ``checkpoint_state`` builds what
every writer saves (method, config, networks' weights, then records: optimizers, step, training record,
RNG states, ...); ``load_checkpoint`` reads a file once into a ``Checkpoint`` that every loader
(``load_models``, the peers' segmenters, ``export_weights``, ``init_from``, ``resume_from``) accepts in
place of a path.

Written atomically (temporary file in the same folder, then rename) so a crash mid-write leaves
the previous checkpoint intact; loaded with ``weights_only=True`` so a file cannot run code.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from vosgan.config import VOSGANConfig
from vosgan.data.io import shareable
from vosgan.models import Discriminator, Generator

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not fit the requested model."""


def checkpoint_state(
    method: str, config: Any, generator: nn.Module | dict, discriminator: nn.Module | dict, **records: Any
) -> dict[str, Any]:
    """The one layout of a checkpoint: ``method`` ('vosgan', 'cis', 'fastgan'), its config (a config
    dataclass or its dict), both networks' weights (modules or state dicts), then ``records`` (step,
    train, finetune, optimizer states, RNG states, ...) as further entries."""
    if not isinstance(config, dict):
        config = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    weights = [net.state_dict() if isinstance(net, nn.Module) else net for net in (generator, discriminator)]
    return {"method": method, "config": config, "generator": weights[0], "discriminator": weights[1], **records}


class Checkpoint(dict):
    """A checkpoint as read from ``path``: its entries, plus the method that wrote it and its training
    record. Every loader takes one in place of a path, so a command reads its file once."""

    def __init__(self, state: dict[str, Any], path: str | os.PathLike):
        super().__init__(state)
        self.path = Path(path)

    @property
    def method(self) -> str:
        """'vosgan', 'cis' or 'fastgan' (files written before methods were recorded are VOS-GAN's)."""
        return str(self.get("method", "vosgan"))

    @property
    def train(self) -> dict[str, Any]:
        return self.get("train", {})


Source = str | os.PathLike | Checkpoint  # what every loader accepts: a path, or a file already read


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (tensors, dicts, numbers, strings) to ``path``; on any failure (a full
    disk included) the previous file at ``path`` is untouched and the error says why."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format_version": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        shareable(tmp)  # mkstemp makes 0600 files; a checkpoint is as shareable as any file
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a full disk as "enforce fail at inline_container.cc"
        Path(tmp).unlink(missing_ok=True)
        free = shutil.disk_usage(path.parent).free
        text = str(err)
        full = free < 1 << 20 or "write failed" in text or getattr(err, "errno", None) == 28
        cut = "enforce fail" in text or "unexpected pos" in text or getattr(err, "errno", None) == 27
        reason = (
            "no space left on the device"
            if full
            else "the file could not be written completely (a file size limit, or the disk filled up)"
            if cut
            else text.splitlines()[0]
        )
        kept = "the previous file is untouched" if path.exists() else "nothing was written"
        raise OSError(f"cannot write checkpoint {path}: {reason} ({free / 1e6:.1f} MB free); {kept}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_partial_writes(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted ``save_checkpoint`` left in ``folder`` (``.<name>.*.tmp``)."""
    stale = sorted(Path(folder).glob(".*.pt.*.tmp"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


# The first bytes of files people mistake for checkpoints, and what to call them.
_MAGIC = {b"GIF8": "a GIF image", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"%PDF": "a PDF document"}


def describe_file(path: str | os.PathLike) -> str | None:
    """What a file that is not a PyTorch checkpoint looks like ('a GIF image', 'a text file starting
    "# Model card"'), or None when it is a ZIP archive (the format torch saves) or unrecognised."""
    head = Path(path).read_bytes()[:256] if Path(path).is_file() else b""
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    if head.startswith(b"PK"):
        return None
    try:
        first = head.decode("utf-8").strip().splitlines()
    except UnicodeDecodeError:
        return None
    return f'a text file starting "{first[0][:40]}"' if first else "an empty text file"


# Which commands take the checkpoints of each method (``state['method']``, 'vosgan' when absent).
METHOD_COMMANDS = {
    "vosgan": "every command (train --resume, segment, evaluate, compare, generation, the explorer)",
    "cis": "segment, compare and train-peer --resume",
    "fastgan": "segment, compare and train-peer --resume",
}


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``, the one way the kit reads a ``.pt`` file: a file that is
    not one, or that holds Python objects (a pickle that could run code), is refused by name, without
    torch's advice to load it unsafely."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): it was never completely written; use another")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        text = str(err)
        kind = describe_file(path)
        if kind:
            raise CheckpointError(f"{path} is {kind}, not a checkpoint; give a .pt file written by vosgan") from None
        if "Weights only load failed" in text or "weights_only" in text:
            reason = "it holds Python objects beyond tensors and plain data, which a safe load refuses"
        else:  # the first line only: torch's advice on unsafe loading is not repeated
            reason = f"{type(err).__name__}: {text.splitlines()[0] if text else 'unreadable'}"
        raise CheckpointError(f"cannot read checkpoint {path}: not a readable PyTorch checkpoint ({reason})") from None


def load_checkpoint(source: Source, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint safely (``safe_load``) and check it is one of ours; a ``Checkpoint`` already
    read is returned as it is (``load_state_dict`` later moves its tensors to the model's device)."""
    if isinstance(source, Checkpoint):
        return source
    path = source
    state = safe_load(path, map_location)
    if not isinstance(state, dict) or "config" not in state:
        raise CheckpointError(f"{path} is not a vosgan checkpoint (no 'config' entry)")
    missing = [k for k in ("generator", "discriminator") if not isinstance(state.get(k), dict)]
    if missing:
        raise CheckpointError(f"{path} is incomplete: it has no {' or '.join(repr(k) for k in missing)} weights")
    return Checkpoint(state, path)


def nonfinite_tensors(weights: dict[str, torch.Tensor]) -> list[str]:
    """Names of floating-point tensors of a state dict with NaN or infinite entries."""
    return [k for k, v in weights.items() if v.is_floating_point() and not torch.isfinite(v).all()]


def load_weights(
    module: torch.nn.Module, weights: dict[str, torch.Tensor], path, what: str, new: tuple[str, ...] = ()
) -> list[str]:
    """``module.load_state_dict(weights)``, refusing non-finite weights and summarising a mismatch
    (missing, unexpected and differently shaped tensors, a few names each) with the file's name.
    Tensors under the prefixes ``new`` (layers the file's model did not have) may be missing: they
    keep their initialisation, and their names are returned."""
    bad = nonfinite_tensors(weights)
    if bad:
        raise CheckpointError(
            f"{path}: {len(bad)} {what} tensor(s) hold NaN or infinite values (first: {bad[0]}); the run diverged "
            "before this file was written: use an earlier checkpoint"
        )
    own = module.state_dict()
    fresh = [k for k in own if k not in weights and k.startswith(new)] if new else []
    missing = [k for k in own if k not in weights and k not in fresh]
    unexpected = [k for k in weights if k not in own]
    shapes = [k for k in own if k in weights and own[k].shape != weights[k].shape]
    if missing or unexpected or shapes:
        parts = [
            f"{len(names)} {label} (e.g. {', '.join(names[:3])})"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("with another shape", shapes))
            if names
        ]
        raise CheckpointError(
            f"{path}: the {what} weights do not fit its own config: " + "; ".join(parts) + ". The file was written "
            "by other code or edited; re-export it from the training run's checkpoint.pt"
        )
    module.load_state_dict({**{k: own[k] for k in fresh}, **weights})
    return fresh


def check_config(saved: dict[str, Any], cfg: VOSGANConfig, path: str | os.PathLike = "checkpoint") -> None:
    """Refuse a checkpoint whose model geometry or widths differ from ``cfg``, naming the differences."""
    expected = cfg.to_dict()
    saved = VOSGANConfig.from_dict(saved).to_dict()  # fields added since it was written take their defaults
    keys = ("size", "frames", "latent", "generator", "discriminator")
    diffs = [f"{k}: checkpoint {saved.get(k)} vs config {expected[k]}" for k in keys if saved.get(k) != expected[k]]
    if diffs:
        raise CheckpointError(
            f"{path} was trained with preset {saved.get('name')!r}, which does not fit {cfg.name!r}: "
            + "; ".join(diffs)
            + ". Use the matching --preset, or start a new run folder."
        )


def evaluated_weights(state: dict[str, Any], network: str) -> dict[str, torch.Tensor]:
    """The weights of ``network`` ('generator' or 'discriminator') that a run samples and evaluates:
    its EMA copy when the run kept one (``train.ema``, ``train.ema_d``), else the trained weights."""
    return state.get(f"{network}_ema", state[network])


def export_weights(
    source: Source, out: str | os.PathLike, half: bool = False, updates: dict[str, Any] | None = None
) -> Path:
    """Keep only the config, both networks (their EMA copies when the run kept them) and what describes
    them (method, training record, BatchNorm recalibration), no optimizer or RNG state; ``updates``
    replaces entries first (e.g. a recalibrated discriminator); ``half`` stores float16 (tensors with
    values beyond its range stay float32)."""
    state = load_checkpoint(source)
    state = {**state, **{n: evaluated_weights(state, n) for n in ("generator", "discriminator")}, **(updates or {})}

    def convert(t: torch.Tensor) -> torch.Tensor:  # float16 where it holds the values (BatchNorm variances may not)
        if not (half and t.is_floating_point() and t.numel()):
            return t
        return t.half() if t.abs().max() < torch.finfo(torch.float16).max else t

    slim = checkpoint_state(
        load_checkpoint(source).method,
        state["config"],
        {k: convert(v) for k, v in state["generator"].items()},
        {k: convert(v) for k, v in state["discriminator"].items()},
        step=state.get("step", 0),
        # the training record and what describes the weights travel with them
        **{k: state[k] for k in ("train", "finetune", "bn_recalibration") if k in state},
    )
    return save_checkpoint(out, slim)


class Models(NamedTuple):
    """What ``load_models`` returns: unpack it (``cfg, gen, disc = load_models(path)``) or take what
    is needed by name (``load_models(path).discriminator``)."""

    cfg: VOSGANConfig
    generator: Generator
    discriminator: Discriminator


def load_models(source: Source, device: str | torch.device = "cpu") -> Models:
    """Rebuild both networks from a checkpoint alone (its stored config), in eval mode; a run's EMA
    copies when it kept them (``evaluated_weights``)."""
    state = load_checkpoint(source, map_location=device)
    path = state.path
    require_method(state, path, "vosgan")
    try:
        cfg = VOSGANConfig.from_dict(state["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path} holds an invalid VOS-GAN config: {err}") from None
    generator, discriminator = Generator(cfg).to(device), Discriminator(cfg).to(device)
    # load_state_dict copies into the float32 parameters, so float16 exports load transparently.
    load_weights(generator, evaluated_weights(state, "generator"), path, "generator")
    load_weights(discriminator, evaluated_weights(state, "discriminator"), path, "discriminator")
    return Models(cfg, generator.eval(), discriminator.eval())


def is_export(state: dict[str, Any]) -> bool:
    """True for a weights-only file (``export_weights``, a best snapshot): no optimizer state to resume."""
    return "opt_g" not in state or "opt_d" not in state


def require_method(state: dict[str, Any], path, method: str) -> None:
    """Refuse a checkpoint of another method, naming the method it holds and the commands that take it."""
    found = str(state.get("method", "vosgan"))  # a plain dict too: a state built in memory
    if found != method:
        names = {"vosgan": "VOS-GAN", "cis": "CIS", "fastgan": "FaSTGAN"}
        held, wanted = names.get(found, found), names.get(method, method)
        commands = METHOD_COMMANDS.get(found, "the commands of that method")
        raise CheckpointError(
            f"{path} holds a {held} model (method {found!r}), not a {wanted} one; {held} checkpoints go to {commands}"
        )


def init_from(trainer, source: Source) -> list[str]:
    """Start ``trainer``'s networks (and their EMA copies) from the weights of the checkpoint or export at
    ``path``: a new run (fresh optimizers, step 0) of a model with the same geometry and widths, which
    may add the motion layer; returns the names of the layers that kept their fresh initialisation."""
    state = load_checkpoint(source, map_location=trainer.device)
    path = state.path
    require_method(state, path, "vosgan")
    saved = VOSGANConfig.from_dict(state["config"])
    widths = ("ngf", "motion_encoder", "motion_hidden", "upsampling")
    pairs = {k: (getattr(saved, k), getattr(trainer.cfg, k)) for k in ("size", "frames", "latent", "discriminator")}
    pairs.update({f"generator.{k}": (getattr(saved.generator, k), getattr(trainer.cfg.generator, k)) for k in widths})
    diffs = [f"{k}: file {a} vs run {b}" for k, (a, b) in pairs.items() if a != b]
    if diffs:
        raise CheckpointError(f"--init {path} holds a model of another shape than this run's: " + "; ".join(diffs))
    fresh = load_weights(trainer.G, evaluated_weights(state, "generator"), path, "generator", new=("motion_layer.",))
    load_weights(trainer.D, evaluated_weights(state, "discriminator"), path, "discriminator")
    for ema, module in ((trainer.ema, trainer.G), (trainer.ema_d, trainer.D)):
        if ema is not None:
            ema.load_state_dict(module.state_dict())
    before = state.get("train", {})
    trainer.init_record = {
        "path": str(path),
        "steps": before.get("steps", state.get("step")),
        **({"seconds": before["seconds"]} if "seconds" in before else {}),
    }
    return fresh


def resume_from(trainer, source: Source) -> list[str]:
    """Continue ``trainer`` (a ``vosgan.training.trainer.Trainer``) from the checkpoint at ``path``: weights,
    optimizers, RNG states and step. Returns the loss/training settings that differ from the ones the
    checkpoint was trained with (``'section.key: old -> new'``), for the caller to report."""
    from vosgan.config import setting_changes

    state = load_checkpoint(source, map_location=trainer.device)
    trainer.load_state_dict(state, str(state.path))
    trainer.last_good = (str(state.path), trainer.step)
    changes = setting_changes(VOSGANConfig.from_dict(state["config"]), trainer.cfg)
    return [f"{name}.{k}: {a} -> {b}" for name, values in changes.items() for k, (a, b) in values.items()]
