"""Refinement (``vosgan.segmentation.refine``): the box filter and the guided filter against their definitions, the
dense CRF's mean-field update by hand, both snapping a coarse map to the frame's colour edges, the
streaming path equal to the array path, the setting recorded in a checkpoint, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vosgan.config import SegmentConfig
from vosgan.metrics.davis import jaccard
from vosgan.segmentation.refine import CRFConfig, Refiner, box_mean, dense_crf, guided_coefficients, refine


def test_box_mean_is_the_windowed_mean_clipped_at_the_border():
    x = torch.rand(2, 3, 9, 13)
    for r in (1, 3, 7):
        expected = torch.nn.functional.avg_pool2d(x, 2 * r + 1, 1, r, count_include_pad=False)
        torch.testing.assert_close(box_mean(x, r), expected, rtol=1e-5, atol=1e-6)


def test_guided_filter_keeps_a_map_that_is_linear_in_the_guide():
    """q = a . I + b exactly in every window: the filter's least-squares fit finds it (eps -> 0)."""
    guide = torch.rand(2, 3, 16, 20)
    p = 0.3 * guide[:, 0] - 0.2 * guide[:, 1] + 0.5 * guide[:, 2] + 0.1
    a, b = guided_coefficients(p, guide, 3, 1e-8)
    torch.testing.assert_close((a * guide).sum(1) + b[:, 0], p, rtol=1e-3, atol=1e-3)
    a, b = guided_coefficients(p, guide, 3, 10.0)  # a large eps flattens towards the local mean
    assert a.abs().max() < 0.05


def square_scene(t=3, h=64, w=64):
    """A red square (rows and columns 20..43) on blue, and a coarse map (16x16) too large and unsure."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 2] = 200
    frames[:, 20:44, 20:44] = (220, 30, 30)
    truth = np.zeros((t, h, w), bool)
    truth[:, 20:44, 20:44] = True
    coarse = np.full((t, 16, 16), 0.2, np.float32)
    coarse[:, 3:13, 3:13] = 0.8  # 40 px wide at 64 px, 24 wanted
    return frames, truth, coarse


@pytest.mark.parametrize("method", ["guided", "crf"])
def test_refinement_snaps_a_coarse_blob_to_the_object(method):
    frames, truth, coarse = square_scene()
    plain = refine(coarse, frames, SegmentConfig(refine="none")) > 0.5
    refined = refine(coarse, frames, SegmentConfig(refine=method, refine_radius=0.25)) > 0.5
    assert refined.shape == truth.shape
    assert jaccard(truth, plain).mean() < 0.4  # the blob: 24^2 / 40^2
    assert jaccard(truth, refined).mean() > 0.9


def test_the_streaming_path_equals_the_array_path():
    frames, _, coarse = square_scene()
    settings = SegmentConfig(refine="guided")
    whole = refine(coarse, frames, settings)
    from vosgan.data.clips import resize_frames

    refiner = Refiner(torch.from_numpy(coarse), resize_frames(frames, 16), settings)
    streamed = np.stack([refiner.frame(t, frames[t], (64, 64)) for t in range(len(frames))])
    np.testing.assert_array_equal(whole, streamed)
    assert refine(coarse, frames, SegmentConfig()).shape == (3, 64, 64)  # 'none': bilinear


def test_refinement_settings_are_checked():
    with pytest.raises(ValueError, match="segment.refine must be one of"):
        SegmentConfig(refine="bilateral")
    with pytest.raises(ValueError, match="refine_radius"):
        SegmentConfig(refine_radius=0)
    frames, _, coarse = square_scene()
    with pytest.raises(ValueError, match="probability maps for"):
        refine(coarse[:2], frames, SegmentConfig(refine="guided"))
    with pytest.raises(ValueError, match="needs frames"):
        Refiner(torch.from_numpy(coarse), None, SegmentConfig(refine="guided"))


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
