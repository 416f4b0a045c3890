import math

import pytest
import torch

from vosgan.config import ablation, get_preset
from vosgan.models import Discriminator, Generator
from vosgan.models.latent import sample_latents
from vosgan.models.summary import PAPER_TABLES, compare_with_paper, count_flops, layer_table, paper_shape


@pytest.fixture(scope="module")
def paper_models():
    cfg = get_preset("paper")
    torch.manual_seed(0)
    return cfg, Generator(cfg), Discriminator(cfg)


def test_generator_matches_table_1_row_by_row(paper_models):
    cfg, gen, _ = paper_models
    z_c, z_m = sample_latents(cfg, 1, torch.Generator().manual_seed(0))
    rows = layer_table(gen, z_c, z_m)
    assert len(rows) == len(PAPER_TABLES["generator"])
    for row, (name, shape) in zip(rows, PAPER_TABLES["generator"]):
        assert row.shape == paper_shape(shape), (row.name, name)
    assert all(r["match"] for r in compare_with_paper(rows, "generator"))


def test_discriminator_matches_table_2_row_by_row(paper_models):
    cfg, _, disc = paper_models
    rows = layer_table(disc, torch.zeros(1, 3, cfg.frames, cfg.size, cfg.size))
    assert [r.shape for r in rows] == [paper_shape(s) for _, s in PAPER_TABLES["discriminator"]]
    # The table's stride-3 and 2x2x2 rows keep their kernels, strides and padding.
    assert "k(2, 2, 2) s(1, 1, 1) p(1, 1, 1)" in rows[9].kind


def test_stride_three_row_of_table_1(paper_models):
    _, gen, _ = paper_models
    conv = gen.motion_features[1][0]
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3, 3), (3, 3, 3), (1, 2, 2))
    assert isinstance(gen.background_stream[-1][-1], torch.nn.Tanh)
    assert isinstance(gen.mask_head[-1], torch.nn.Sigmoid)
    # Table 1: the third residual layer has no batch norm.
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in gen.foreground_features[7:10].modules())


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_output_shapes_and_ranges(name):
    cfg = get_preset(name)
    gen, disc = Generator(cfg), Discriminator(cfg)
    z_c, z_m = sample_latents(cfg, 2, torch.Generator().manual_seed(0))
    out = gen(z_c, z_m)
    b, t, s = 2, cfg.frames, cfg.size
    assert out.video.shape == (b, 3, t, s, s) and out.foreground.shape == (b, 3, t, s, s)
    assert out.background.shape == (b, 3, s, s) and out.mask.shape == (b, 1, t, s, s)
    assert out.video.abs().max() <= 1 and 0 <= out.mask.min() and out.mask.max() <= 1
    d = disc(out.video)
    assert d.logit.shape == (b,) and d.segmentation.shape == (b, 1, t, s, s) and d.flow.shape == (b, 2, t, s, s)
    assert 0 <= d.flow.min() and d.flow.max() <= 1


def test_composition_is_eq_1():
    cfg = get_preset("tiny")
    gen = Generator(cfg).eval()
    out = gen(*sample_latents(cfg, 2, torch.Generator().manual_seed(3)))
    expected = out.mask * out.foreground + (1 - out.mask) * out.background[:, :, None]
    torch.testing.assert_close(out.video, expected)


def test_motion_latent_leaves_background_unchanged():
    cfg = get_preset("tiny")
    # Train mode: batch statistics, since an untrained net's running statistics flatten every output.
    gen = Generator(cfg).train()
    z_c, z_m = sample_latents(cfg, 2, torch.Generator().manual_seed(0))
    _, z_m_other = sample_latents(cfg, 2, torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = gen(z_c, z_m), gen(z_c, z_m_other)
    torch.testing.assert_close(a.background, b.background)
    assert not torch.allclose(a.mask, b.mask)


def test_motion_encoder_none_uses_the_trajectory_mean():
    cfg = ablation("tiny", "baseline")
    gen = Generator(cfg).eval()
    assert gen.motion_encoder is None
    z_c, z_m = sample_latents(cfg, 2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = gen(z_c, z_m)
        b = gen(z_c, z_m.flip(1))  # the mean ignores frame order
    torch.testing.assert_close(a.video, b.video)


def test_flops_and_parameters_are_counted():
    cfg = get_preset("tiny")
    gen = Generator(cfg)
    z = sample_latents(cfg, 1, torch.Generator().manual_seed(0))
    flops = count_flops(gen, *z)
    assert flops > 0
    # Twice the batch, twice the FLOPs.
    assert count_flops(gen, *sample_latents(cfg, 2, torch.Generator().manual_seed(0))) == 2 * flops
    # Parameters by hand for one row: the tiny generator's first background row, ConvT2d(16 -> 16, 4x4)
    # without bias (batch norm follows) plus the batch norm's scale and shift.
    first = gen.background_stream[0]
    assert sum(p.numel() for p in first.parameters()) == 16 * 16 * 4 * 4 + 2 * 16
    # and the documented totals of docs/architecture.md for the paper and small presets
    paper = sum(p.numel() for p in Generator(get_preset("paper")).parameters())
    small = sum(p.numel() for p in Discriminator(get_preset("small")).parameters())
    assert round(paper / 1e6, 2) == 19.47 and round(small / 1e6, 2) == 3.60


def test_tiny_forward_backward_runs():
    cfg = get_preset("tiny")
    gen, disc = Generator(cfg), Discriminator(cfg)
    out = gen(*sample_latents(cfg, cfg.train.batch_size, torch.Generator().manual_seed(0)))
    d = disc(out.video)
    b, t, s = cfg.train.batch_size, cfg.frames, cfg.size
    assert out.video.shape == (b, 3, t, s, s) and out.mask.shape == (b, 1, t, s, s)
    assert d.logit.shape[0] == b and d.segmentation.shape[-3:] == (t, s, s) and d.flow.shape[1:] == (2, t, s, s)
    assert out.video.min() >= -1 and out.video.max() <= 1 and 0 <= out.mask.min() and out.mask.max() <= 1
    (d.logit.mean() + d.segmentation.mean() + d.flow.mean()).backward()
    # every parameter that takes part gets a finite, non-zero gradient (a detached branch would not)
    for net in (gen, disc):
        grads = [p.grad for p in net.parameters() if p.requires_grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(float(g.abs().sum()) > 0 for g in grads) > 0.9 * len(grads)


def test_discriminator_output_carries_its_conversions():
    from vosgan.config import get_preset
    from vosgan.data.flow import flow_to_target
    from vosgan.models import Discriminator, DiscriminatorOutput

    cfg = get_preset("tiny")
    pixels = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0]).view(1, 1, 5, 1, 1).repeat(1, 2, 1, 1, 1)
    target = flow_to_target(pixels.expand(1, 2, 5, 1, cfg.size), cfg.loss.flow_max_fraction)[..., :1]
    out = DiscriminatorOutput(
        torch.tensor([0.0]), torch.tensor([[[[[2.0]]]]]), target, cfg.loss.flow_max_fraction * cfg.size
    )
    torch.testing.assert_close(out.flow_pixels, pixels)  # the inverse of the target mapping (4 px at 32x32 is the edge)
    assert out.probability.item() == pytest.approx(1 / (1 + math.exp(-2.0))) and out.real_score.item() == 0.5
    disc = Discriminator(cfg)
    dense = disc.dense(torch.zeros(2, 3, 16, 32, 32))
    assert isinstance(dense, DiscriminatorOutput) and dense.logit is None and dense.flow_scale == 4.0
    assert dense.segmentation.shape == (2, 1, 16, 32, 32) and dense.flow.shape == (2, 2, 16, 32, 32)


@pytest.mark.parametrize("bn", [True, False])
def test_upsampled_rows_equal_upsampling_then_convolution(bn):
    """An 'up3d' row runs as one convolution of its input to a channel per output phase; its output and
    every gradient must equal those of the row's own layers (nearest upsampling, then the convolution)."""
    from torch import nn

    from vosgan.models.blocks import ConvRow

    torch.manual_seed(0)
    row = ConvRow("up3d", 8, 3, 4, 2, 1, bn=bn, act="tanh")
    with torch.no_grad():  # a non-zero bias where there is one, so its path is checked too
        for p in row.parameters():
            p.normal_(0, 0.3)
    x = torch.randn(2, 8, 3, 5, 6, requires_grad=True)
    outputs, grads = [], []
    for forward in (row.forward, lambda v: nn.Sequential.forward(row, v)):
        y = forward(x)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        outputs.append(y.detach())
        grads.append([x.grad.clone(), *(p.grad.clone() for p in row.parameters())])
        x.grad = None
        row.zero_grad()
    assert outputs[0].shape == (2, 3, 6, 10, 12)
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
    assert len(grads[0]) == (4 if bn else 3)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_summaries_of_a_resize_generator_count_its_upsampling_rows():
    """The phase-form rows run their convolution inside the row: FLOPs and the layer table must still
    see it (the same count as the listed layers give)."""
    from vosgan.models.blocks import ConvRow

    cfg = get_preset("tiny").with_overrides(generator={"upsampling": "resize"})
    gen = Generator(cfg)
    z = sample_latents(cfg, 2)
    rows = {r.name: r for r in layer_table(gen, *z)}
    assert rows["foreground_head"].kind.startswith("Upsample x2 + Conv3d k(3, 3, 3)")
    assert rows["foreground_head"].shape == (3, cfg.frames, cfg.size, cfg.size)
    phased = count_flops(gen, *z)
    for m in gen.modules():
        if isinstance(m, ConvRow):
            m.upsampled_3d = False
    assert phased == count_flops(gen, *z) > 0
