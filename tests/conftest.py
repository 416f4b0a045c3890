"""Shared fixtures: everything runs on the CPU with tiny models unless a test says otherwise."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("VOSGAN_CACHE", __import__("tempfile").mkdtemp(prefix="vosgan-cache-"))

import pytest  # noqa: E402
import torch  # noqa: E402

# One intra-op thread: tiny models gain nothing from more, and oversubscribed OpenMP threads
# (two processes of two threads on two cores) can slow a step a hundredfold.
torch.set_num_threads(1)


@pytest.fixture
def tiny_cfg():
    from vosgan.config import get_preset

    return get_preset("tiny")


@pytest.fixture(scope="session")
def tiny_dataset():
    """A small in-memory synthetic training set at the tiny preset's geometry."""
    from vosgan.config import get_preset
    from vosgan.data.datasets import ClipDataset
    from vosgan.data.synthetic import make_benchmark

    cfg = get_preset("tiny")
    clips = make_benchmark(24, cfg.frames, cfg.size, seed=0, split="train")
    return ClipDataset.from_synthetic(clips, cfg.size, progress=False)


@pytest.fixture
def tiny_models():
    """(config, generator, discriminator) of the tiny preset, freshly initialised with seed 0."""
    from vosgan.config import get_preset
    from vosgan.models import Discriminator, Generator

    cfg = get_preset("tiny")
    torch.manual_seed(0)
    return cfg, Generator(cfg), Discriminator(cfg)


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_models):
    """``tiny_models`` saved as a checkpoint file (config and both networks)."""
    from vosgan.models.checkpoint import checkpoint_state, save_checkpoint

    cfg, gen, disc = tiny_models
    return save_checkpoint(tmp_path / "tiny.pt", checkpoint_state("vosgan", cfg, gen, disc))
