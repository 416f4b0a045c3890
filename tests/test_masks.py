"""Mask statistics: the centre of mass of a moving square, diversity by hand, and a report on an untrained model."""

import pytest
import torch

from vosgan.config import get_preset
from vosgan.metrics.masks import centroid_path, mask_report, mask_statistics, pairwise_iou
from vosgan.models import Discriminator, Generator


def test_centroid_follows_a_moving_square():
    mask = torch.zeros(1, 1, 3, 16, 16)
    for t in range(3):
        mask[0, 0, t, 2:6, 2 + 3 * t : 6 + 3 * t] = 1.0  # 4x4 square, 3 px right per frame
    path = centroid_path(mask)
    torch.testing.assert_close(path[0], torch.tensor([[3.5, 3.5], [6.5, 3.5], [9.5, 3.5]]))


def test_mask_report_of_an_untrained_model():
    torch.manual_seed(0)
    cfg = get_preset("tiny")
    report = mask_report(Generator(cfg), Discriminator(cfg), count=8)
    assert set(report) == {"area", "crisp", "object_clips", "d_iou", "diversity"}
    assert abs(report["area"] - 0.5) < 0.1  # sigmoid of a zero-biased head: m near 0.5 everywhere
    assert report["crisp"] < 0.05  # nothing near 0 or 1 yet
    for value in report.values():
        assert 0.0 <= value and value == value


def test_diversity_is_zero_for_identical_masks_and_grows_as_objects_separate():
    masks = torch.zeros(3, 1, 2, 8, 8)
    masks[:, :, :, 0:4, 0:4] = 1.0  # the same 4x4 square in every clip: collapsed
    assert mask_statistics(masks)["diversity"] == 0.0
    masks[1, :, :, 0:4, 0:4] = 0.0
    masks[1, :, :, 0:4, 2:6] = 1.0  # clip 1 shifted by half a square: IoU 8/24 with the others
    assert pairwise_iou(masks > 0.5).item() == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    masks[1] = 0.0
    masks[1, :, :, 4:8, 4:8] = 1.0  # disjoint
    assert mask_statistics(masks)["diversity"] == pytest.approx(1 - 1 / 3)
