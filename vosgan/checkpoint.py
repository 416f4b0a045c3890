"""Checkpoints: config, both networks, both optimizers, RNG states and the step.

Written atomically (temporary file in the same folder, then rename) so a crash mid-write leaves
the previous checkpoint intact; loaded with ``weights_only=True`` so a file cannot run code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from vosgan.config import VOSGANConfig
from vosgan.models import Discriminator, Generator

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not fit the requested model."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (tensors, dicts, numbers, strings) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format_version": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; a checkpoint is as shareable as any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and check it is one of ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None
    if not isinstance(state, dict) or "config" not in state or "generator" not in state:
        raise CheckpointError(f"{path} is not a vosgan checkpoint (no config/generator entries)")
    return state


def check_config(saved: dict[str, Any], cfg: VOSGANConfig, path: str | os.PathLike = "checkpoint") -> None:
    """Refuse a checkpoint whose model geometry or widths differ from ``cfg``, naming the differences."""
    expected = cfg.to_dict()
    keys = ("size", "frames", "latent", "generator", "discriminator")
    diffs = [f"{k}: checkpoint {saved.get(k)} vs config {expected[k]}" for k in keys if saved.get(k) != expected[k]]
    if diffs:
        raise CheckpointError(
            f"{path} was trained with preset {saved.get('name')!r}, which does not fit {cfg.name!r}: "
            + "; ".join(diffs)
            + ". Use the matching --preset, or start a new run folder."
        )


def export_weights(path: str | os.PathLike, out: str | os.PathLike, half: bool = False) -> Path:
    """Keep only the config and both networks (no optimizer or RNG state); ``half`` stores float16."""
    state = load_checkpoint(path)
    convert = (lambda t: t.half() if t.is_floating_point() else t) if half else (lambda t: t)
    slim = {
        "config": state["config"],
        "generator": {k: convert(v) for k, v in state["generator"].items()},
        "discriminator": {k: convert(v) for k, v in state["discriminator"].items()},
        "step": state.get("step", 0),
    }
    return save_checkpoint(out, slim)


def load_models(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[VOSGANConfig, Generator, Discriminator]:
    """Rebuild both networks from a checkpoint alone (its stored config), in eval mode."""
    state = load_checkpoint(path, map_location=device)
    cfg = VOSGANConfig.from_dict(state["config"])
    generator, discriminator = Generator(cfg).to(device), Discriminator(cfg).to(device)
    # load_state_dict copies into the float32 parameters, so float16 exports load transparently.
    generator.load_state_dict(state["generator"])
    discriminator.load_state_dict(state["discriminator"])
    return cfg, generator.eval(), discriminator.eval()
