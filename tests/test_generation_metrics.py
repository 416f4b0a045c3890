"""FID, IS and FCD (vosgan.metrics.generation), their feature networks and the kit's FeatureNet."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vosgan.metrics.generation import (
    crop_boxes,
    fcd_of_videos,
    foreground_boxes,
    frame_consistency,
    frechet_distance,
    inception_score,
)
from vosgan.metrics.networks import InceptionV3, ResNeXt3D, load_network_weights, temporal_resample
from vosgan.paths import FEATURES_CHECKPOINT


def test_frechet_distance_by_hand_and_of_a_set_with_itself():
    # 1-D: means 1 and 3, sample variances 2 and 8: (1-3)^2 + 2 + 8 - 2 sqrt(16) = 6
    assert frechet_distance(np.array([[0.0], [2.0]]), np.array([[1.0], [5.0]])) == pytest.approx(6.0)
    a = np.random.default_rng(0).normal(size=(200, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(torch.from_numpy(a), torch.from_numpy(a + 1)) == pytest.approx(8.0, rel=1e-6)
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(a, a[:, :4])


def test_inception_score_bounds_by_hand():
    k = 5
    assert inception_score(np.full((10, k), 1 / k), splits=2)[0] == pytest.approx(1.0)
    one_hot = np.eye(k)[np.arange(20) % k]
    mean, std = inception_score(one_hot, splits=2)
    assert mean == pytest.approx(k, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    probs = np.random.default_rng(1).dirichlet(np.ones(k), size=100)
    assert 1 <= inception_score(probs)[0] <= k
    with pytest.raises(ValueError, match="probabilities"):
        inception_score(np.ones((4, k)))


def test_foreground_boxes_and_crops():
    masks = torch.zeros(1, 2, 8, 8, dtype=torch.bool)
    masks[0, 0, 2:5, 3:7] = True
    boxes = foreground_boxes(masks)
    assert boxes[0, 0].tolist() == [2, 3, 5, 7] and boxes[0, 1].tolist() == [0, 0, 0, 0]
    crops, valid = crop_boxes(torch.randn(1, 3, 2, 8, 8), boxes, 4)
    assert crops.shape == (1, 2, 3, 4, 4) and valid.tolist() == [[True, False]]


def test_fcd_is_zero_for_a_static_foreground_and_grows_with_change():
    from vosgan.metrics.extractors import KitExtractor

    extractor = KitExtractor(FEATURES_CHECKPOINT)
    frame = torch.rand(1, 3, 1, 32, 32) * 2 - 1
    still = frame.repeat(1, 1, 6, 1, 1)
    masks = torch.zeros(1, 6, 32, 32, dtype=torch.bool)
    masks[:, :, 8:20, 10:24] = True
    assert fcd_of_videos(still, masks, extractor) == pytest.approx(0.0, abs=1e-5)
    changing = still.clone()
    changing[:, :, 1::2] = -changing[:, :, 1::2]  # the foreground's colours flip every other frame
    assert fcd_of_videos(changing, masks, extractor) > 0.1
    assert np.isnan(frame_consistency(torch.zeros(1, 3, 4), torch.zeros(1, 3, dtype=torch.bool)))


def _blur(video: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma == 0:
        return video
    r = int(3 * sigma)
    k = torch.exp(-(torch.arange(-r, r + 1).float() ** 2) / (2 * sigma**2))
    k = (k / k.sum()).view(1, 1, -1)
    n, c, t, h, w = video.shape
    x = video.permute(0, 2, 1, 3, 4).reshape(-1, 1, h, w)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
    return x.reshape(n, t, c, h, w).permute(0, 2, 1, 3, 4)


def test_fid_with_kit_features_grows_monotonically_with_blur_and_noise():
    from vosgan.metrics.extractors import KitExtractor
    from vosgan.metrics.featurenet import labelled_clips

    extractor = KitExtractor(FEATURES_CHECKPOINT)
    video, _ = labelled_clips(300, "test", seed=3)  # clips the network never saw (another benchmark seed)
    base = extractor.clip_features(video)
    blurred = [frechet_distance(base, extractor.clip_features(_blur(video, s))) for s in (0, 0.7, 1.5, 3)]
    noise = torch.randn(video.shape, generator=torch.Generator().manual_seed(0))
    noisy = [frechet_distance(base, extractor.clip_features((video + s * noise).clamp(-1, 1))) for s in (0, 0.1, 0.3)]
    assert blurred[0] == pytest.approx(0, abs=1e-6) and noisy[0] == pytest.approx(0, abs=1e-6)
    assert blurred[1] < blurred[2] < blurred[3]
    assert noisy[1] < noisy[2]


def test_the_shipped_feature_network_recognises_held_out_clips():
    from vosgan.metrics.featurenet import accuracies, labelled_clips, load_feature_network

    scores = accuracies(load_feature_network(FEATURES_CHECKPOINT), *labelled_clips(300, "test", seed=3))
    chance = {"motion": 1 / 5, "background": 1 / 15}
    assert all(scores[k] > 1.5 * chance[k] for k in chance), scores


def test_published_networks_build_load_local_weights_and_refuse_others(tmp_path):
    torch.manual_seed(0)
    inception = InceptionV3().eval()
    with torch.no_grad():
        assert inception.features(torch.zeros(1, 3, 299, 299)).shape == (1, 2048)
        assert inception(torch.zeros(1, 3, 299, 299)).shape == (1, 1000)
    path = tmp_path / "inception.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in inception.state_dict().items()}}, path)
    fresh = InceptionV3()
    digest = load_network_weights(fresh, path)
    assert len(digest) == 16 and torch.equal(fresh.fc.weight, inception.fc.weight)
    with pytest.raises(ValueError, match="does not fit ResNeXt3D"):
        load_network_weights(ResNeXt3D((1, 1, 1, 1)), path)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        load_network_weights(fresh, tmp_path / "missing.pth")
    resnext = ResNeXt3D((1, 1, 1, 1)).eval()
    with torch.no_grad():
        assert resnext.features(torch.zeros(2, 3, 16, 112, 112)).shape == (2, 2048)
    assert temporal_resample(8, 16)[:4] == [0, 0, 1, 1] and temporal_resample(32, 16)[:3] == [0, 2, 4]


def test_published_extractor_needs_local_weights():
    from vosgan.metrics.extractors import PublishedExtractor

    with pytest.raises(ValueError, match="nothing is"):
        PublishedExtractor()


def test_score_generation_records_its_recipe():
    from vosgan.config import get_preset
    from vosgan.metrics.extractors import KitExtractor
    from vosgan.metrics.generation import score_generation
    from vosgan.models import Discriminator, Generator

    torch.manual_seed(0)
    cfg = get_preset("tiny")
    gen, disc = Generator(cfg), Discriminator(cfg)
    real = torch.rand(12, 3, cfg.frames, cfg.size, cfg.size) * 2 - 1
    scores = score_generation(gen, disc, real, KitExtractor(FEATURES_CHECKPOINT), sets=2, per_set=6, batch=4)
    assert set(scores) == {"FID", "IS", "FCD", "MC"}
    assert scores["FID"].mean > 0 and len(scores["FID"].values) == 2
    assert 1 <= scores["IS"].mean <= 15
    recipe = scores["FID"].recipe
    assert recipe["sets"] == 2 and recipe["clips_per_set"] == 6 and "kit features" in recipe["features"]
    assert len(recipe["weights"]) == 16 and recipe["frames"] == cfg.frames
