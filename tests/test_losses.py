"""Each term of Eq. 2-3 against a hand computation, and the alpha schedule."""

import math

import pytest
import torch

from vosgan.config import LossConfig
from vosgan.models import DiscriminatorOutput, GeneratorOutput
from vosgan.training.losses import (
    alpha_at,
    area_hinge_loss,
    binarization_loss,
    compactness_loss,
    d_adversarial_loss,
    discriminator_loss,
    flow_loss,
    g_adversarial_loss,
    generator_loss,
    mask_prior_loss,
    mode_seeking_loss,
    r1_penalty,
    segmentation_loss,
)


def test_adversarial_terms_match_the_log_likelihoods():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    expected = -(sig(real).log().mean()) - (1 - sig(fake)).log().mean()
    torch.testing.assert_close(d_adversarial_loss(real, fake), expected)
    torch.testing.assert_close(g_adversarial_loss(fake), -(sig(fake).log().mean()))
    # A perfect discriminator has (near) zero loss; a fooled one pays.
    assert d_adversarial_loss(torch.tensor([20.0]), torch.tensor([-20.0])) < 1e-6
    assert d_adversarial_loss(torch.tensor([-5.0]), torch.tensor([5.0])) > 9


def test_segmentation_is_pixel_nll_against_the_binarised_generator_mask():
    logits = torch.tensor([0.0, 2.0, -1.0, 3.0]).reshape(1, 1, 1, 2, 2)
    mask = torch.tensor([0.9, 0.2, 0.6, 0.51]).reshape(1, 1, 1, 2, 2).requires_grad_()
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0])
    p = torch.sigmoid(logits.flatten())
    expected = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    loss = segmentation_loss(logits, mask)
    torch.testing.assert_close(loss, expected)
    assert not loss.requires_grad  # the generator's mask is a detached target


def test_flow_is_the_mean_squared_l2_norm():
    pred = torch.zeros(1, 2, 1, 1, 2)
    target = torch.tensor([[3.0, 0.0], [4.0, 1.0]]).reshape(1, 2, 1, 1, 2)
    # pixel 0: 3^2 + 4^2 = 25, pixel 1: 0 + 1 = 1 -> mean 13
    assert flow_loss(pred, target).item() == pytest.approx(13.0)
    # the end-point error: norms 5 and 1 -> mean 3, times the pixels of one unit of the range
    assert flow_loss(pred, target, "epe", pixels=8.0).item() == pytest.approx(24.0)
    pred.requires_grad_()
    flow_loss(pred, pred.detach(), "epe").backward()  # an exact prediction: a finite (zero) gradient
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().max() < 1e-3


def test_alpha_schedule_paper_values():
    cfg = LossConfig()
    assert [round(alpha_at(e, cfg), 6) for e in range(5)] == [1.0, 1.0, 1.2, 1.4, 1.6]
    assert alpha_at(10, LossConfig(alpha_schedule=False)) == 1.0


def test_discriminator_loss_sums_the_switched_on_terms():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(2, generator=g), torch.randn(2, generator=g)
    seg = torch.randn(2, 1, 2, 4, 4, generator=g)
    mask = torch.rand(2, 1, 2, 4, 4, generator=g)
    flows = [torch.rand(2, 2, 2, 4, 4, generator=g) for _ in range(4)]
    d_real = DiscriminatorOutput(real, torch.zeros_like(seg), flows[2])
    d_fake = DiscriminatorOutput(fake, seg, flows[0])
    full = discriminator_loss(d_real, d_fake, mask, flows[1], flows[3], alpha=1.4, cfg=LossConfig())
    expected = full.adversarial + full.segmentation + 1.4 * (full.flow_fake + full.flow_real)
    torch.testing.assert_close(full.total, expected)
    assert math.isclose(full.flow_fake.item(), flow_loss(flows[0], flows[1]).item())
    assert math.isclose(full.flow_real.item(), flow_loss(flows[2], flows[3]).item())
    epe = discriminator_loss(d_real, d_fake, mask, flows[1], flows[3], 1.4, LossConfig(flow_loss="epe"))
    assert math.isclose(epe.flow_real.item(), flow_loss(flows[2], flows[3], "epe", 2 * d_real.flow_scale).item())
    assert epe.flow_real.item() > full.flow_real.item()  # errors below one unit: the norm exceeds its square
    weighted = discriminator_loss(d_real, d_fake, mask, flows[1], flows[3], 1.4, LossConfig(flow_weight=5.0))
    torch.testing.assert_close(weighted.total - full.total, 1.4 * 4.0 * (full.flow_fake + full.flow_real))
    heavier = discriminator_loss(d_real, d_fake, mask, flows[1], flows[3], 1.4, LossConfig(segmentation_weight=10.0))
    torch.testing.assert_close(heavier.total - full.total, 9.0 * full.segmentation)
    bare = discriminator_loss(
        d_real, d_fake, mask, None, None, alpha=1.4, cfg=LossConfig(segmentation=False, flow=False)
    )
    torch.testing.assert_close(bare.total, bare.adversarial)
    assert bare.segmentation == 0 and bare.flow_real == 0
    with_r1 = discriminator_loss(
        d_real, d_fake, mask, flows[1], flows[3], 1.4, LossConfig(r1=2.0), r1=torch.tensor(3.0)
    )
    torch.testing.assert_close(with_r1.total - full.total, torch.tensor(3.0))  # gamma / 2 * penalty


def test_hinge_losses_by_hand():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.25])
    seg, flow = torch.zeros(2, 1, 1, 2, 2), torch.full((2, 2, 1, 2, 2), 0.5)
    cfg = LossConfig(gan="hinge", segmentation=False, flow=False)
    d = discriminator_loss(
        DiscriminatorOutput(real, seg, flow), DiscriminatorOutput(fake, seg, flow), seg, None, None, 1.0, cfg
    )
    # relu(1 - real) = (0, 0.5), relu(1 + fake) = (0, 1.25)
    assert d.adversarial.item() == pytest.approx(0.25 + 0.625)
    out = GeneratorOutput(torch.zeros(2, 3, 1, 2, 2), torch.zeros(2, 3, 1, 2, 2), torch.zeros(2, 3, 2, 2), seg)
    g = generator_loss(DiscriminatorOutput(fake, seg, flow), out, torch.zeros(2, 4), torch.zeros(2, 1, 4), cfg)
    assert g.adversarial.item() == pytest.approx(-(-3.0 + 0.25) / 2)


def test_area_hinge_and_binarization_by_hand():
    mask = torch.zeros(2, 1, 2, 4, 4)
    mask[0, :, :, :2] = 1.0  # clip 0 covers half the frame; clip 1 is empty
    # area_min 0.05, area_max 0.3: clip 0 pays 0.5 - 0.3 = 0.2, clip 1 pays 0.05 - 0 = 0.05
    assert area_hinge_loss(mask, 0.05, 0.3).item() == pytest.approx((0.2 + 0.05) / 2)
    assert area_hinge_loss(mask, 0.0, 0.6).item() == 0.0
    assert binarization_loss(mask).item() == 0.0
    assert binarization_loss(torch.full((1, 1, 1, 2, 2), 0.3)).item() == pytest.approx(0.3)
    assert binarization_loss(torch.full((1, 1, 1, 2, 2), 0.8)).item() == pytest.approx(0.2)


def test_compactness_is_one_for_a_disc_and_grows_for_outlines():
    ys, xs = torch.meshgrid(torch.arange(64) + 0.5, torch.arange(64) + 0.5, indexing="ij")
    disc = (((ys - 30) ** 2 + (xs - 25) ** 2) < 100).float()
    square = torch.zeros(64, 64)
    square[20:40, 8:28] = 1  # on a grid of n = 20 pixels a side: 2 pi 2 (n^2 - 1) / 12 / n^2 = pi / 3 (1 - 1 / n^2)
    outline = torch.ones(64, 64)
    outline[3:-3, 3:-3] = 0  # a frame-border ring
    frames = torch.stack([disc, square, outline])  # (3, H, W): one clip, three frames
    per_frame = [compactness_loss(f[None, None, None]).item() for f in frames]
    assert per_frame[0] == pytest.approx(1.0, abs=0.01) and per_frame[1] == pytest.approx(
        math.pi / 3 * (1 - 1 / 400), rel=1e-5
    )
    assert per_frame[2] > 9
    assert compactness_loss(frames[None, None]).item() == pytest.approx(sum(per_frame) / 3, rel=1e-5)
    moved = torch.roll(disc, (7, -5), dims=(0, 1))
    assert compactness_loss(moved[None, None, None]).item() == pytest.approx(per_frame[0], rel=1e-4)


def test_generator_loss_adds_each_switched_on_term():
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(4, 1, 2, 4, 4, generator=g)
    out = GeneratorOutput(torch.zeros(4, 3, 2, 4, 4), torch.zeros(4, 3, 2, 4, 4), torch.zeros(4, 3, 4, 4), mask)
    d = DiscriminatorOutput(torch.randn(4, generator=g), torch.zeros_like(mask), torch.zeros(4, 2, 2, 4, 4))
    z_c, z_m = torch.randn(4, 3, generator=g), torch.randn(4, 2, 3, generator=g)
    cfg = LossConfig(mask_prior=2.0, mask_area=0.1, area_hinge=3.0, binarize=5.0, mode_seeking=0.5, compactness=0.7)
    loss = generator_loss(d, out, z_c, z_m, cfg)
    expected = (
        g_adversarial_loss(d.logit)
        + 2.0 * mask_prior_loss(mask, 0.1)
        + 3.0 * area_hinge_loss(mask, 0.05, 0.3)
        + 5.0 * binarization_loss(mask)
        + 0.5 * mode_seeking_loss(mask, z_c, z_m)
        + 0.7 * compactness_loss(mask)
    )
    torch.testing.assert_close(loss.total, expected)
    assert generator_loss(d, out, z_c, z_m, LossConfig()).total.item() == pytest.approx(
        g_adversarial_loss(d.logit).item()
    )


def test_r1_penalty_is_the_squared_input_gradient():
    x = torch.randn(2, 3, 1, 2, 2, requires_grad=True)
    logit = (3.0 * x).flatten(1).sum(1)  # gradient 3 everywhere: |grad|^2 = 9 * 12 per clip
    assert r1_penalty(logit, x).item() == pytest.approx(9 * 12)


def test_mask_prior_area_and_crispness_terms():
    mask = torch.zeros(2, 1, 4, 8, 8)
    mask[0, :, :, :4] = 1.0  # clip 0 covers half of every frame, clip 1 nothing
    assert mask_prior_loss(mask).item() == pytest.approx(0.25)  # area 0: VGAN's L1, the mean over pixels
    # Area 0.1: clip 0's frames are 0.4 over, clip 1's 0.1 under; both pay (two-sided).
    assert mask_prior_loss(mask, area=0.1).item() == pytest.approx((0.4 + 0.1) / 2)
    # The area is per frame: a clip that covers 0.4 of one frame and nothing in three others has a
    # clip area of 0.1 but pays for every frame.
    burst = torch.zeros(1, 1, 4, 10, 10)
    burst[0, 0, 0, :4] = 1.0
    assert mask_prior_loss(burst, area=0.1).item() == pytest.approx((0.3 + 3 * 0.1) / 4)
    # A crisp mask costs nothing in the crispness term; a uniform 0.5 mask costs binary x 0.25.
    assert mask_prior_loss(mask, area=0.25, binary=3.0).item() == pytest.approx(0.25)
    half = torch.full_like(mask, 0.5)
    assert mask_prior_loss(half, area=0.5, binary=3.0).item() == pytest.approx(3.0 * 0.25)


def test_mode_seeking_term_by_hand_and_its_gradient_spreads_the_masks():
    z_c, z_m = torch.zeros(4, 2), torch.zeros(4, 3, 2)
    z_c[2:] = 1.0  # pairs (0, 2) and (1, 3) differ by 1 in z_c only: mean |z1 - z2| = 2 / 8
    mask = torch.zeros(4, 1, 2, 2, 2)
    mask[2, :, 0] = 1.0  # pair (0, 2): masks differ in half the pixels; pair (1, 3): identical
    expected = (1 / (0.5 / 0.25 + 1e-5) + 1 / (0.0 + 1e-5)) / 2
    assert mode_seeking_loss(mask, z_c, z_m).item() == pytest.approx(expected)
    # A gradient step on the term moves two nearly identical masks apart.
    soft = torch.full((4, 1, 2, 2, 2), 0.5)
    soft[2] += 0.01
    soft.requires_grad_(True)
    mode_seeking_loss(soft, z_c, z_m).backward()
    with torch.no_grad():
        stepped = soft - 1e-6 * soft.grad
    assert (stepped[2] - stepped[0]).abs().mean() > (soft[2] - soft[0]).abs().mean()
    with pytest.raises(ValueError, match="at least 2"):
        mode_seeking_loss(mask[:1], z_c[:1], z_m[:1])
