"""CIS's CRF post-processing (``vosgan.peers.crf``): a mean-field update by hand, the do-nothing case,
snapping an offset mask to the image's colour edge, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from vosgan.refine import CRFConfig, dense_crf


def test_one_mean_field_update_by_hand():
    """On a 5x5 frame the window (3 sxy) covers the whole frame, so the update is the fully connected one."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, (1, 5, 5)).astype(np.float32)
    frames = rng.integers(0, 255, (1, 5, 5, 3), dtype=np.uint8)
    cfg = CRFConfig(sxy=2.0, srgb=40.0, compat=3.0, iterations=1)
    yx = np.stack(np.meshgrid(np.arange(5), np.arange(5), indexing="ij"), -1).reshape(-1, 2)
    rgb = frames[0].reshape(-1, 3).astype(np.float64)
    d_pos = ((yx[:, None] - yx[None]) ** 2).sum(-1) / (2 * cfg.sxy**2)
    d_rgb = ((rgb[:, None] - rgb[None]) ** 2).sum(-1) / (2 * cfg.srgb**2)
    k = np.exp(-d_pos - d_rgb)
    np.fill_diagonal(k, 0)  # no message from a pixel to itself
    q0 = p[0].reshape(-1).astype(np.float64)
    # Potts energies: E_i(l) = -log P_i(l) + compat * sum_j k_ij Q_j(not l); Q_i(fg) = softmax over l
    e_fg = -np.log(q0) + cfg.compat * k @ (1 - q0)
    e_bg = -np.log(1 - q0) + cfg.compat * k @ q0
    expected = 1 / (1 + np.exp(e_fg - e_bg))
    got = dense_crf(p, frames, cfg)[0].reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert np.abs(got - q0).max() > 0.05  # the pairwise term moved the marginals


def test_no_pairwise_term_returns_the_probability():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.99, (3, 12, 10)).astype(np.float32)
    frames = rng.integers(0, 255, (3, 12, 10, 3), dtype=np.uint8)
    np.testing.assert_allclose(dense_crf(p, frames, CRFConfig(compat=0.0), chunk=2), p, rtol=1e-5, atol=1e-6)


def test_an_offset_mask_snaps_to_the_colour_edge():
    """The object (red, columns 10..21) is predicted 3 px too far right and unsure (0.65 / 0.35): the CRF
    pulls the labels onto the coloured square in every frame, chunks included."""
    t, h, w = 3, 32, 32
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 2] = 200
    frames[:, 10:22, 10:22] = (220, 30, 30)
    truth = np.zeros((t, h, w), bool)
    truth[:, 10:22, 10:22] = True
    p = np.full((t, h, w), 0.35, np.float32)
    p[:, 10:22, 13:25] = 0.65
    refined = dense_crf(p, frames, CRFConfig(), chunk=2) > 0.5
    assert ((p > 0.5) != truth).sum() == t * 2 * 3 * 12  # 3 columns wrong on each side, before
    assert (refined == truth).all()


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="differ"):
        dense_crf(np.zeros((2, 8, 8), np.float32), np.zeros((2, 8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="sxy > 0"):
        CRFConfig(sxy=0)
