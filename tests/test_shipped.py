"""The committed model loads from its file alone and is the `small` preset."""

from pathlib import Path

import torch

from vosgan.checkpoint import check_config, load_checkpoint, load_models
from vosgan.config import get_preset
from vosgan.explore import LatentPoint, motion_interpolation

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "vosgan-small.pt"


def test_shipped_checkpoint_loads_and_generates():
    state = load_checkpoint(SHIPPED)
    check_config(state["config"], get_preset("small").with_overrides(loss={"mask_prior": 10.0}), SHIPPED)
    cfg, gen, disc = load_models(SHIPPED)
    assert cfg.name == "small" and cfg.loss.mask_prior == 10.0 and state["step"] == 3500
    a, b = LatentPoint.from_seed(cfg.latent.dim, 0), LatentPoint.from_seed(cfg.latent.dim, 1)
    out = motion_interpolation(gen, a, b, steps=2)
    assert torch.isfinite(out.video).all() and out.video.shape == (2, 3, 16, 32, 32)
    torch.testing.assert_close(out.background[0], out.background[1])
    assert out.background.std() > 0.05  # a trained background, not the flat output of an untrained net
