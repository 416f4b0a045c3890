"""Latent exploration functions and the widget, driven programmatically."""

import numpy as np
import pytest
import torch

from vosgan.config import get_preset
from vosgan.exploration.explore import (
    discriminator_view,
    latent_step,
    motion_interpolation,
    move_endpoint,
    scene_interpolation,
    trajectory_contrast,
)
from vosgan.exploration.widgets import LatentExplorer
from vosgan.models import Discriminator, Generator
from vosgan.models.latent import trajectory
from vosgan.models.sampling import LatentPoint


@pytest.fixture(scope="module")
def generator():
    """A tiny generator whose batch-norm statistics are estimated (untrained running statistics flatten outputs)."""
    cfg = get_preset("tiny")
    torch.manual_seed(0)
    gen = Generator(cfg)
    for m in gen.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(4):
            gen(
                torch.randn(8, cfg.latent.dim, generator=g),
                trajectory(*torch.randn(2, 8, cfg.latent.dim, generator=g), cfg.frames, "slerp"),
            )
    return gen.eval()


def points(dim):
    return LatentPoint.from_seed(dim, 0), LatentPoint.from_seed(dim, 1)


def test_latent_point_is_fixed_by_seed():
    a, b = LatentPoint.from_seed(16, 5), LatentPoint.from_seed(16, 5)
    assert torch.equal(a.z_c, b.z_c) and torch.equal(a.end, b.end) and not torch.equal(a.start, a.end)


def test_scene_interpolation_changes_the_background(generator):
    a, b = points(generator.cfg.latent.dim)
    out = scene_interpolation(generator, a, b, steps=4)
    assert out.video.shape[0] == 4
    assert (out.background[0] - out.background[-1]).abs().mean() > 1e-3
    alone = scene_interpolation(generator, a, a, steps=1)
    torch.testing.assert_close(out.background[0], alone.background[0])


def test_motion_interpolation_keeps_the_scene(generator):
    a, b = points(generator.cfg.latent.dim)
    out = motion_interpolation(generator, a, b, steps=4)
    torch.testing.assert_close(out.background[0], out.background[-1])
    assert (out.mask[0] - out.mask[-1]).abs().max() > 1e-3
    moved = move_endpoint(generator, a, b.end, "end", steps=3)
    torch.testing.assert_close(moved.video[0], out.video[0])  # step 0 is a's own trajectory
    with pytest.raises(ValueError, match="start"):
        move_endpoint(generator, a, b.end, "middle")


def test_trajectory_contrast(generator):
    a, _ = points(generator.cfg.latent.dim)
    outs = trajectory_contrast(generator, a)
    assert set(outs) == {"slerp", "lerp", "random"}
    assert not torch.allclose(outs["slerp"].video, outs["random"].video)
    frames, dim = generator.cfg.frames, generator.cfg.latent.dim
    smooth = latent_step(trajectory(a.start[None], a.end[None], frames, "slerp"))
    rough = latent_step(torch.randn(1, frames, dim, generator=torch.Generator().manual_seed(0)))
    assert smooth < rough / 3


def test_discriminator_view(generator):
    """Each panel shows what it names: the clip of the point, G's mask, D's segmentation of that clip and
    the Farneback flow of it (a mutation that swaps two panels or renders another point fails here)."""
    from vosgan.data.clips import to_uint8
    from vosgan.data.flow import batch_flow
    from vosgan.models.sampling import render

    cfg = generator.cfg
    torch.manual_seed(1)
    disc = Discriminator(cfg).eval()
    point = LatentPoint.from_seed(cfg.latent.dim, 0)
    view = discriminator_view(generator, disc, point)
    assert list(view) == ["video", "generator mask m(z)", "D segmentation", "Farneback flow OF(G(z))", "D flow"]
    assert all(v.shape == (cfg.frames, cfg.size, cfg.size, 3) and v.dtype == np.uint8 for v in view.values())
    out = render(generator, point.z_c[None], trajectory(point.start[None], point.end[None], cfg.frames, "slerp"))
    assert np.array_equal(view["video"], to_uint8(out.video[0]))
    grey = lambda v: v[..., 0].astype(np.float32) / 255  # noqa: E731
    assert all(
        np.array_equal(view[k][..., 0], view[k][..., c])
        for k in ("generator mask m(z)", "D segmentation")
        for c in (1, 2)
    )
    assert np.abs(grey(view["generator mask m(z)"]) - out.mask[0, 0].numpy()).max() <= 0.5 / 255 + 1e-6
    with torch.no_grad():
        d_probability = disc(out.video).probability[0, 0].numpy()
    assert np.abs(grey(view["D segmentation"]) - d_probability).max() <= 0.5 / 255 + 1e-6
    assert not np.array_equal(view["generator mask m(z)"], view["D segmentation"])
    flow = batch_flow(out.video)[0]
    moving = flow.norm(dim=0).numpy() > 0.5  # where the clip's flow is strong its panel is coloured
    assert (
        moving.any()
        and view["Farneback flow OF(G(z))"][moving].mean() > view["Farneback flow OF(G(z))"][~moving].mean()
    )


def test_explorer_sliders_drive_the_image(generator):
    ex = LatentExplorer(generator)
    size = generator.cfg.size
    first = ex.frame_image()
    assert first.shape == (size, 4 * size, 3) and ex.renders == 1 and ex.image.value[:4] == b"\x89PNG"
    background = lambda img: img[:, size : 2 * size]
    mask = lambda img: img[:, 3 * size :]

    ex.motion.value = 1.0  # same scene, other motion: background unchanged, mask changed
    moved = ex.frame_image()
    assert np.array_equal(background(moved), background(first)) and not np.array_equal(mask(moved), mask(first))

    ex.scene.value = 1.0  # other scene
    assert not np.array_equal(background(ex.frame_image()), background(moved))

    renders = ex.renders
    ex.frame.value = 5  # scrubbing frames is served from the cache
    assert ex.renders == renders and not np.array_equal(ex.frame_image(), first)
    ex.scene.value = 0.0
    ex.motion.value = 0.0
    assert ex.renders == renders  # back to a cached state
    ex.frame.value = 0
    assert np.array_equal(ex.frame_image(), first)

    ex.streams.value = ("video", "mask")
    assert ex.frame_image().shape == (size, 2 * size, 3)
    ex.mode.value = "random"
    assert ex.renders == renders + 1 and ex.last_latency_ms > 0
    ex.seeds[0].value = 7
    assert ex.renders == renders + 2
    fig = ex.figure(frames=4)
    assert fig.axes


def test_explorer_shows_the_discriminator_labels_tiles_and_saves(generator, tmp_path):
    from PIL import Image

    from vosgan.models.checkpoint import save_checkpoint

    cfg = generator.cfg
    disc = Discriminator(cfg)
    ex = LatentExplorer(generator, disc, scale=2)
    assert "D segmentation" in ex.streams.options and "D flow" in ex.streams.options
    ex.streams.value = ("video", "D segmentation", "D flow")
    assert ex.frame_image().shape == (cfg.size, 3 * cfg.size, 3)
    image = Image.open(__import__("io").BytesIO(ex.image.value))
    from vosgan.exploration.widgets import KEY_HEIGHT, LABEL_HEIGHT

    # fixed scale, a label strip on top, the flow tile's colour key below
    assert image.size == (3 * cfg.size * 2, cfg.size * 2 + LABEL_HEIGHT + KEY_HEIGHT)
    assert ex.image.layout.width == f"{image.width}px"
    header = np.asarray(image)[:LABEL_HEIGHT]
    assert (header < 128).any()  # the stream names are drawn
    key = np.asarray(image)[-KEY_HEIGHT:, 2 * cfg.size * 2 :]
    assert (key.std(axis=-1) > 40).any()  # the colour wheel: saturated pixels under the flow tile
    ex.streams.value = ("video", "mask")
    assert Image.open(__import__("io").BytesIO(ex.image.value)).size[1] == cfg.size * 2 + LABEL_HEIGHT  # no key
    strip = Image.open(__import__("io").BytesIO(ex.strip.value))
    assert strip.size[1] == cfg.size * 2 + LABEL_HEIGHT and strip.size[0] >= 8 * cfg.size * 2
    assert ex.play.repeat  # playback loops
    ex.streams.value = ()
    assert ex.frame_image().shape == (cfg.size, cfg.size, 3) and "select at least one stream" in ex.status.value
    ex._report(ex.save_gif, str(tmp_path / "x.gif"))
    assert ex.status.value.startswith("error: select at least one stream")
    ex.streams.value = ("video", "mask")
    ex._report(ex.save_gif, str(tmp_path / "x.pt"))
    assert "name a .gif file" in ex.status.value and not (tmp_path / "x.pt").exists()
    ex._report(ex.save_gif, str(tmp_path / "x.gif"))
    gif = Image.open(tmp_path / "x.gif")
    assert gif.n_frames == cfg.frames and gif.size == ex.labelled_image().size  # as displayed, with its labels
    # loading another checkpoint swaps the networks and empties the cache
    other = Generator(cfg)
    torch.nn.init.constant_(other.mask_head[-2].bias, 5.0)  # masks near 1 everywhere
    path = save_checkpoint(
        tmp_path / "o.pt",
        {"config": cfg.to_dict(), "generator": other.state_dict(), "discriminator": disc.state_dict()},
    )
    before = ex.frame_image()
    ex._report(ex.load, str(path))
    assert ex.status.value.startswith("loaded") and not np.array_equal(ex.frame_image(), before)
    ex._report(ex.load, str(tmp_path / "missing.pt"))
    assert ex.status.value.startswith("error:") and "missing.pt" in ex.status.value
    # files that are not VOS-GAN checkpoints are named for what they are
    (tmp_path / "README.md").write_text("# Model card\nnot weights")
    for name, said in (("x.gif", "is a GIF image"), ("README.md", 'a text file starting "# Model card"')):
        ex._report(ex.load, str(tmp_path / name))
        assert said in ex.status.value and "pickle" not in ex.status.value.lower()
    cis = save_checkpoint(tmp_path / "cis.pt", {"method": "cis", "config": {}, "generator": {}, "discriminator": {}})
    ex._report(ex.load, str(cis))
    assert "holds a CIS model" in ex.status.value and "segment" in ex.status.value
    ex._report(ex.load, "")
    assert "name a VOS-GAN checkpoint" in ex.status.value


def test_explorer_draws_the_objects_path_up_to_the_frame_shown(generator):
    from vosgan.exploration.widgets import LABEL_HEIGHT, TRAIL_COLOR

    class Moving(torch.nn.Module):  # a square crossing the frame left to right
        def __init__(self, cfg):
            super().__init__()
            self.cfg, self.weight = cfg, torch.nn.Parameter(torch.zeros(1))

        def forward(self, z_c, z_m):
            from vosgan.models import GeneratorOutput

            t, size = self.cfg.frames, self.cfg.size
            mask = torch.zeros(len(z_c), 1, t, size, size)
            for k in range(t):
                mask[:, :, k, 12:18, 2 + k : 8 + k] = 1
            zeros = torch.zeros(len(z_c), 3, t, size, size)
            return GeneratorOutput.compose(zeros, zeros[:, :, 0], mask)

    ex = LatentExplorer(Moving(generator.cfg), scale=4)
    ex.streams.value = ("mask",)
    trail = lambda: (np.asarray(ex.labelled_image())[LABEL_HEIGHT:] == TRAIL_COLOR).all(axis=-1)  # noqa: E731
    ex.frame.value = 0
    early = trail().nonzero()[1].max()
    ex.frame.value = 12
    late = trail().nonzero()[1]
    assert late.max() >= early + 4 * 10  # the path reaches 12 frames' travel (1 px per frame at scale 4)
    ex.trail.value = False
    assert not trail().any()


def test_overlay_outlines_the_mask_in_white_on_black_and_dims_the_rest():
    from vosgan.viz.frames import overlay

    frames = np.full((1, 12, 12, 3), 200, np.uint8)
    mask = np.zeros((1, 12, 12), np.float32)
    mask[0, 4:8, 4:8] = 1
    out = overlay(frames, mask)
    assert (out[0, 0, 0] == 100).all()  # outside: dimmed to half
    assert (out[0, 4, 4] == 255).all()  # the mask's edge is white
    assert (out[0, 3, 5] == 0).all() and (out[0, 2, 5] == 100).all()  # a one-pixel black line outside it
    assert out[0, 6, 6, 0] != out[0, 6, 6, 1]  # inside: tinted


def test_stream_rows_show_the_discriminators_weak_flow_at_its_own_stated_scale(tiny_models):
    from vosgan.models import DiscriminatorOutput
    from vosgan.viz.frames import stream_rows

    cfg, gen, disc = tiny_models
    with torch.no_grad():
        out = gen(torch.randn(1, cfg.latent.dim), torch.randn(1, cfg.latent.dim, cfg.frames))
    flow = torch.full((1, 2, cfg.frames, cfg.size, cfg.size), 0.5)
    flow[:, 0] += 0.5 * 0.1 / disc.flow_scale  # 0.1 px to the right everywhere: near black at 1.6 px
    d_out = DiscriminatorOutput(None, torch.zeros(1, 1, cfg.frames, cfg.size, cfg.size), flow, disc.flow_scale)
    rows = stream_rows(out, d_out)
    (label,) = [k for k in rows if k.startswith("D flow")]
    assert label == "D flow (full colour 0.10 px)"
    assert rows[label].max() > 200  # full colour, not the 16/255 the shared scale gave
