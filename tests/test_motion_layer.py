"""The generator's motion layer (not in the paper): z_M sets the trajectory, the warp is exact, and the
motion figures tell a moving object from one that swells or flickers in place."""

import pytest
import torch
from torch import nn

from vosgan.config import get_preset
from vosgan.metrics.masks import object_motion
from vosgan.models import Generator
from vosgan.models.blocks import ConvRow
from vosgan.models.generator import translate_frames
from vosgan.models.latent import sample_latents


def square_clip(frames=8, size=32, step=(1, 0), grow=0):
    """Binary masks (1, 1, T, H, W) of a square moving ``step`` px per frame, its side growing by ``grow``."""
    clip = torch.zeros(1, 1, frames, size, size)
    for t in range(frames):
        x, y, side = 4 + step[0] * t, 8 + step[1] * t, 6 + grow * t
        clip[0, 0, t, y : y + side, x : x + side] = 1
    return clip


def test_object_motion_tells_travel_from_swelling():
    moving = object_motion(square_clip(step=(2, 1)))
    assert moving.travel.item() == pytest.approx(5**0.5, abs=1e-4)
    assert moving.straightness.item() == pytest.approx(1.0, abs=1e-4) and moving.area_change.item() == 1.0
    # a square that grows in place from its corner moves its centre only by half its growth, and swells
    swelling = object_motion(square_clip(step=(0, 0), grow=2))
    assert swelling.area_change.item() == pytest.approx((6 + 14) ** 2 / 36)
    assert swelling.travel.item() == pytest.approx(2**0.5, abs=1e-4)
    there_and_back = torch.cat([square_clip(step=(2, 0)), square_clip(step=(2, 0)).flip(2)], dim=2)
    loop = object_motion(there_and_back)
    assert loop.travel.item() == pytest.approx(0.0, abs=1e-5) and loop.straightness.item() < 0.01
    empty_last = square_clip()
    empty_last[:, :, -1] = 0
    assert len(object_motion(empty_last).clip) == 0  # no object in the last frame: no net travel to measure


def test_translate_frames_moves_by_whole_pixels_exactly_and_is_differentiable():
    x = torch.zeros(1, 1, 2, 8, 8)
    x[..., 3, 3] = 1
    offsets = torch.tensor([[[0.0, 0.0], [2.0, -1.0]]], requires_grad=True)
    moved = translate_frames(x, offsets, "zeros")
    assert moved[0, 0, 0, 3, 3].item() == 1 and moved[0, 0, 1, 2, 5].item() == pytest.approx(1.0, abs=1e-6)
    assert moved.sum().item() == pytest.approx(2.0, abs=1e-5)
    (moved * torch.arange(8.0)).sum().backward()  # the x coordinate of the mass: its gradient in dx is 1
    assert offsets.grad[0, 1, 0].item() == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("layer", ["velocity", "steps"])
def test_motion_layer_offsets_depend_on_z_m_only(layer):
    cfg = get_preset("tiny").with_overrides(generator={"motion_layer": layer, "sprite": True})
    generator = Generator(cfg).eval()
    z_c, z_m = sample_latents(cfg, 4, torch.Generator().manual_seed(0))
    other_c, other_m = sample_latents(cfg, 4, torch.Generator().manual_seed(1))
    offsets = lambda c, m: generator.motion_layer.offsets(*generator.encode_motion(m))  # noqa: E731
    assert torch.equal(offsets(z_c, z_m), offsets(other_c, z_m))
    assert not torch.allclose(offsets(z_c, z_m), offsets(z_c, other_m))
    path = offsets(z_c, z_m)
    assert path.shape == (4, cfg.frames, 2) and path.mean(dim=1).abs().max() < 1e-5
    step = (path[:, 1:] - path[:, :-1]).abs()
    assert step.max() <= cfg.generator.motion_speed * cfg.size + 1e-5
    if layer == "velocity":  # one velocity per clip: a straight path at a constant speed
        assert torch.allclose(step, step[:, :1].expand_as(step), atol=1e-5)
    # a square sprite in the middle of the frame, varying over time: averaged, then moved along the path
    from vosgan.metrics.masks import centroid_path

    mask = torch.zeros(4, 1, cfg.frames, cfg.size, cfg.size)
    mask[..., 12:20, 12:20] = 1
    mask[:, :, ::2, 12:20, 20:22] = 1  # a flicker that the sprite averages away
    with torch.no_grad():
        _, moved = generator.motion_layer(torch.zeros(4, 3, *mask.shape[2:]), mask, *generator.encode_motion(z_m))
    area = moved.sum(dim=(1, 3, 4))
    travelled = centroid_path(moved) - centroid_path(moved)[:, :1]
    inside = (path - path[:, :1]).abs().amax(dim=(1, 2)) < 9  # clips whose square stays in the frame
    assert inside.any()
    assert torch.allclose(area[inside], area[inside][:, :1].expand_as(area[inside]), atol=1e-3)
    assert torch.allclose(travelled[inside], (path - path[:, :1])[inside], atol=0.05)


def test_motion_layer_learns_from_the_loss():
    cfg = get_preset("tiny").with_overrides(generator={"motion_layer": "velocity"})
    generator = Generator(cfg)
    out = generator(*sample_latents(cfg, 2, torch.Generator().manual_seed(0)))
    out.video.mean().backward()
    assert generator.motion_layer.velocity.weight.grad.abs().sum() > 0


def test_paper_generator_has_no_motion_layer_and_options_are_checked():
    assert Generator(get_preset("tiny")).motion_layer is None
    with pytest.raises(ValueError, match="motion_layer"):
        get_preset("tiny").with_overrides(generator={"sprite": True})
    with pytest.raises(ValueError, match="motion_layer must be one of"):
        get_preset("tiny").with_overrides(generator={"motion_layer": "warp"})
    with pytest.raises(ValueError, match="motion_speed"):
        get_preset("tiny").with_overrides(generator={"motion_layer": "velocity", "motion_speed": 0.5})


@pytest.mark.parametrize("kind", ["conv3d", "up3d"])
def test_bf16_conv3d_on_short_clips_is_deterministic_and_matches_fp32(kind):
    """T = 2 < the kernel's 3: oneDNN's bf16 weight gradient misbehaves there, for the discriminator's
    residual rows ('conv3d') and the generator's first upsampling row ('up3d', a phase convolution)."""
    torch.manual_seed(0)
    row = ConvRow(kind, 32, 32, 3, 1, 1, bn=False, act=None)
    conv = row[-2]
    x = torch.randn(4, 32, 2, 4, 4)
    reference = nn.Sequential.forward(row, x)  # the listed layers in fp32
    grads = []
    for _ in range(4):
        conv.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = row(x)
        y.float().square().mean().backward()
        grads.append(conv.weight.grad.clone())
    assert (y.float() - reference).abs().max() < 0.05
    assert all(torch.isfinite(g).all() and torch.equal(g, grads[0]) for g in grads)
    exact = torch.autograd.grad(reference.square().mean(), conv.weight)[0]
    assert (grads[0] - exact).abs().max() < 0.05 * exact.abs().max()


class ToyGenerator(torch.nn.Module):
    """A square whose start comes from z_C and whose velocity comes from ``mover`` ('z_m' or 'z_c'),
    or ('swell') a square that grows in place: a stand-in generator with known motion."""

    def __init__(self, mover: str):
        super().__init__()
        self.cfg, self.mover = get_preset("tiny"), mover
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z_c, z_m):
        b, t, size = len(z_c), self.cfg.frames, self.cfg.size
        start = 13 + 4 * torch.tanh(z_c[:, :2])
        source = z_m[:, 0, :2] if self.mover == "z_m" else z_c[:, 2:4]
        velocity = 0.4 * torch.tanh(source) if self.mover != "swell" else torch.zeros(b, 2)
        ys, xs = torch.arange(size).view(1, 1, size, 1), torch.arange(size).view(1, 1, 1, size)
        times = torch.arange(t).view(1, t, 1, 1)
        cx = start[:, 0].view(b, 1, 1, 1) + velocity[:, 0].view(b, 1, 1, 1) * times
        cy = start[:, 1].view(b, 1, 1, 1) + velocity[:, 1].view(b, 1, 1, 1) * times
        half = 3 + (0.3 * times if self.mover == "swell" else 0 * times)
        mask = (((xs - cx).abs() <= half) & ((ys - cy).abs() <= half)).float().unsqueeze(1)
        from vosgan.models import GeneratorOutput

        return GeneratorOutput.compose(torch.zeros(b, 3, t, size, size), torch.zeros(b, 3, size, size), mask)


def test_motion_report_tells_which_latent_steers_the_trajectory():
    from vosgan.metrics.masks import motion_report

    data = {"travel": 0.5, "straightness": 1.0, "swelling": 0.0}
    by_motion = motion_report(ToyGenerator("z_m"), count=64, data=data)
    by_scene = motion_report(ToyGenerator("z_c"), count=64, data=data)
    swelling = motion_report(ToyGenerator("swell"), count=64, data=data)
    assert by_motion.object_clips == 1.0 and by_motion.swelling == 0.0
    assert by_motion.latent_contrast > 3 and by_scene.latent_contrast < 1 / 3
    assert (
        by_motion.straightness > 0.7
    )  # a rasterised square steps by whole pixels and by_motion.travel == pytest.approx(by_scene.travel, rel=0.3)
    assert swelling.travel < 0.05 and swelling.swelling == 1.0
    assert by_motion.travel_ratio == pytest.approx(by_motion.travel / 0.5)
    row = by_motion.to_dict("motion_")
    assert set(row) >= {"motion_travel", "motion_latent_contrast", "motion_data_travel", "motion_swelling"}


def test_init_starts_a_motion_layer_run_from_a_checkpoint_without_one(tmp_path, tiny_checkpoint, tiny_dataset):
    from vosgan.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from vosgan.training.runs import run_training

    source = load_checkpoint(tiny_checkpoint)
    source["generator"]["background_stream.0.0.weight"] += 1.0  # unlike any fresh initialisation
    tiny_checkpoint = save_checkpoint(tmp_path / "source.pt", source)
    cfg = get_preset("tiny").with_overrides(generator={"motion_layer": "velocity"}, train={"precision": "fp32"})
    trainer = run_training(cfg, tiny_dataset, tmp_path / "run", 1, progress=False, init=tiny_checkpoint, threads=1)
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert saved["train"]["init"]["path"] == str(tiny_checkpoint) and trainer.step == 1
    assert "motion_layer.velocity.weight" in saved["generator"]
    # the shared layers started from the file: one step of Adam moves a weight by at most ~lr
    start = source["generator"]["background_stream.0.0.weight"]
    assert (saved["generator"]["background_stream.0.0.weight"] - start).abs().max() < 3 * cfg.train.lr
    wider = cfg.with_overrides(generator={"ngf": 8})
    with pytest.raises(CheckpointError, match="generator.ngf: file 4 vs run 8"):
        run_training(wider, tiny_dataset, tmp_path / "other", 1, progress=False, init=tiny_checkpoint)
    with pytest.raises(ValueError, match="a resumed run keeps its own"):
        run_training(cfg, tiny_dataset, tmp_path / "run", 2, progress=False, init=tiny_checkpoint, resume=True)


def test_object_paths_and_the_figures_that_draw_them():
    import matplotlib

    matplotlib.use("Agg")
    from vosgan.metrics.masks import object_paths
    from vosgan.viz.frames import paths_figure, rows_figure

    clip = square_clip(frames=6, step=(2, 0))
    clip[:, :, 2] = 0  # the object is absent in frame 2
    path = object_paths(clip)[0]
    assert torch.isnan(path[2]).all() and path[3, 0] - path[0, 0] == pytest.approx(6.0)
    frames = (clip[0, 0, :, :, :, None].repeat(1, 1, 1, 3) * 255).byte().numpy()
    fig = rows_figure({"moving": frames}, count=3, paths={"moving": path.numpy()})
    assert len(fig.axes[0].lines) == 6  # a path and a marker over each of the 3 frames shown
    fig = paths_figure({"a": object_paths(clip).numpy(), "b": object_paths(square_clip(frames=6)).numpy()}, 32)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]  # each panel: one path and its start dot
