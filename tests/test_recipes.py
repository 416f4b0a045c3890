"""Training options that are not in the paper (all off in every preset): each does what it says."""

import pytest
import torch
from torch import nn

from vosgan.cli.main import build_parser
from vosgan.config import build_config, get_preset
from vosgan.models import Generator, GeneratorOutput
from vosgan.training.augment import DiffAugment, Geometry, glide_foreground, glide_offsets, shift_foreground, translate
from vosgan.training.distributed import DistInfo
from vosgan.training.trainer import Trainer

CPU = DistInfo.single(torch.device("cpu"))


def test_translate_moves_content_and_fills_zeros():
    x = torch.arange(16.0).view(1, 1, 1, 4, 4).repeat(2, 1, 3, 1, 1)
    out = translate(x, torch.tensor([1, 0]), torch.tensor([0, -2]))
    # clip 0: one pixel right, the left column filled with 0
    assert torch.equal(out[0, 0, 0, :, 1:], x[0, 0, 0, :, :3]) and out[0, 0, 0, :, 0].abs().sum() == 0
    # clip 1: two pixels up, the bottom two rows filled with 0; every frame the same
    assert torch.equal(out[1, 0, 2, :2], x[1, 0, 2, 2:]) and out[1, 0, :, 2:].abs().sum() == 0


def test_shift_foreground_recomposes_eq_1_with_a_moved_object():
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(3, 1, 4, 8, 8)
    mask[:, :, :, 3:5, 3:5] = 1
    out = GeneratorOutput(
        torch.zeros(3, 3, 4, 8, 8), torch.rand(3, 3, 4, 8, 8, generator=g), torch.rand(3, 3, 8, 8, generator=g), mask
    )
    moved = shift_foreground(out, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(moved.background, out.background)
    torch.testing.assert_close(
        moved.video, moved.mask * moved.foreground + (1 - moved.mask) * out.background[:, :, None]
    )
    assert moved.mask.sum() == mask.sum()  # offsets up to 2 px keep the 2x2 object inside the frame
    assert not torch.equal(moved.mask, mask)  # seed 1 moves at least one clip
    # one offset per clip: each frame's object sits at the same place
    assert torch.equal(moved.mask[:, :, :1].expand_as(moved.mask), moved.mask)


def test_glide_moves_the_object_at_one_constant_velocity_per_clip():
    dx, dy = glide_offsets(64, 9, 1.0, torch.Generator().manual_seed(0))
    assert dx.shape == (64, 9) and (dx[:, 4] == 0).all() and (dy[:, 4] == 0).all()  # still at the middle frame
    assert dx.abs().max() <= 4 and dx.abs().max() >= 3 and not torch.equal(dx, dy)
    # constant velocity: the offsets are antisymmetric about the middle frame and grow monotonically
    assert torch.equal(dx, -dx.flip(1)) and ((dx.diff(dim=1) * dx[:, -1:].sign()) >= 0).all()
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(2, 1, 5, 16, 16)
    mask[:, :, :, 7:9, 7:9] = 1
    out = GeneratorOutput(
        torch.zeros(2, 3, 5, 16, 16),
        torch.rand(2, 3, 5, 16, 16, generator=g),
        torch.rand(2, 3, 16, 16, generator=g),
        mask,
    )
    moved = glide_foreground(out, 0.125, torch.Generator().manual_seed(3))  # up to 2 px per frame
    torch.testing.assert_close(
        moved.video, moved.mask * moved.foreground + (1 - moved.mask) * out.background[:, :, None]
    )
    assert torch.equal(moved.background, out.background) and torch.equal(moved.mask[:, :, 2], mask[:, :, 2])
    ex, ey = glide_offsets(2, 5, 2.0, torch.Generator().manual_seed(3))
    for b in range(2):
        for t in range(5):  # frame t of clip b is the original moved by that frame's offset
            expect = translate(mask[b : b + 1, :, t : t + 1], ex[b, t : t + 1], ey[b, t : t + 1])
            assert torch.equal(moved.mask[b : b + 1, :, t : t + 1], expect)
    assert not torch.equal(moved.mask[:, :, 0], moved.mask[:, :, -1])  # it moved


def test_balanced_segmentation_weighs_each_class_by_the_others_share():
    from vosgan.training.losses import segmentation_loss

    mask = torch.zeros(2, 1, 3, 4, 4)
    mask[:, :, :, 0, :2] = 1  # 2 of 16 pixels: foreground share 1/8
    logits = torch.randn(2, 1, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    per_pixel = torch.nn.functional.binary_cross_entropy_with_logits(logits, mask, reduction="none")
    weight = torch.where(mask > 0.5, 7 / 8, 1 / 8)
    expected = (per_pixel * weight).sum() / weight.sum()
    torch.testing.assert_close(segmentation_loss(logits, mask, balanced=True), expected)
    torch.testing.assert_close(segmentation_loss(logits, mask), per_pixel.mean())
    # predicting "no foreground anywhere" costs far more when balanced
    empty = torch.full_like(logits, -4.0)
    assert segmentation_loss(empty, mask, balanced=True) > 3 * segmentation_loss(empty, mask)


def test_diffaugment_is_shared_over_frames_and_its_geometry_moves_targets():
    aug = DiffAugment("color,translation,cutout")
    x = torch.rand(4, 3, 1, 16, 16).repeat(1, 1, 5, 1, 1) * 2 - 1  # static clips
    out, geometry = aug(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.allclose(out[:, :, :1].expand_as(out), out)  # same draw for every frame
    target = torch.ones(4, 1, 5, 16, 16)
    moved = geometry.apply(target)
    assert (moved == 0).any() and (moved == 1).any()  # cut out and shifted in from the border
    assert torch.equal(Geometry().apply(target), target)
    assert not DiffAugment("")


def test_resize_upsampling_keeps_shapes_and_has_no_transposed_convolution():
    cfg = get_preset("tiny").with_overrides(generator={"upsampling": "resize", "mask_bias": -3.0})
    gen = Generator(cfg)
    transposed = [m for m in gen.modules() if isinstance(m, (nn.ConvTranspose2d, nn.ConvTranspose3d))]
    assert len(transposed) == 2  # only the two 1x1 -> 4x4 first rows remain; nothing upsamples by striding
    assert all(set(m.stride) == {1} for m in transposed)
    out = gen(torch.randn(2, 16), torch.randn(2, 16, 16))
    ref = Generator(get_preset("tiny"))(torch.randn(2, 16), torch.randn(2, 16, 16))
    assert out.video.shape == ref.video.shape and out.background.shape == ref.background.shape
    assert out.mask.mean() < 0.1  # sigmoid(-3) ~ 0.05 at initialisation (weights ~ N(0, 0.02))
    with pytest.raises(ValueError, match="upsampling"):
        get_preset("tiny").with_overrides(generator={"upsampling": "bicubic"})


def test_separate_learning_rates_and_ema(tiny_dataset, tmp_path):
    cfg = get_preset("tiny").with_overrides(train={"lr_g": 1e-3, "lr_d": 5e-5, "ema": 0.9, "ema_d": 0.8})
    trainer = Trainer(cfg, tiny_dataset, CPU, seed=0)
    assert trainer.opt_g.param_groups[0]["lr"] == 1e-3 and trainer.opt_d.param_groups[0]["lr"] == 5e-5
    before = [p.detach().clone() for p in trainer.G_samples.parameters()]
    d_start = {k: v.clone() for k, v in trainer.D_samples.state_dict().items()}
    seen, update = [], trainer.ema_d.update  # D as each update saw it (its statistics move again in G's steps)
    trainer.ema_d.update = lambda m: (seen.append({k: v.clone() for k, v in m.state_dict().items()}), update(m))
    trainer.fit(2, progress=False)
    # EMA after two updates: 0.9^2 of the start plus the rest from the live weights, never equal to either
    for avg, start, live in zip(trainer.G_samples.parameters(), before, trainer.G.parameters()):
        if not torch.equal(start, live):
            assert not torch.equal(avg, live) and not torch.equal(avg, start)
    # D's copy after two D steps: 0.8^2 start + 0.2 (0.8 D_1 + D_2), for its weights and its BatchNorm
    # statistics alike (a copied buffer would equal D_2's)
    averaged, live = trainer.D_samples.state_dict(), trainer.D.state_dict()
    assert len(seen) == 2
    for k, v in seen[1].items():
        if v.is_floating_point():
            expected = 0.64 * d_start[k] + 0.16 * seen[0][k] + 0.2 * v
            assert torch.allclose(averaged[k], expected, atol=1e-6), k
    assert not torch.equal(averaged["discrimination.1.0.bias"], live["discrimination.1.0.bias"])
    assert any(not torch.equal(averaged[k], live[k]) for k in live if k.endswith("running_mean"))
    state = trainer.state_dict()
    assert "generator_ema" in state and "discriminator_ema" in state
    # a run's checkpoint loads (and exports) as the copies it evaluated
    from vosgan.models.checkpoint import load_models, save_checkpoint

    _, gen, disc = load_models(save_checkpoint(tmp_path / "run.pt", state))
    assert all(torch.equal(a, b) for a, b in zip(disc.state_dict().values(), averaged.values()))
    assert all(torch.equal(a, b) for a, b in zip(gen.parameters(), trainer.G_samples.parameters()))
    # resumed with the same settings: the copies come back; switched on at a resume: they start from the live weights
    again = Trainer(cfg, tiny_dataset, CPU, seed=0)
    again.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(again.D_samples.state_dict().values(), averaged.values()))
    del state["discriminator_ema"]
    again.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(again.D_samples.state_dict().values(), live.values()))


def test_mode_seeking_motion_pairs_share_the_scene(tiny_dataset):
    cfg = get_preset("tiny").with_overrides(loss={"mode_seeking": 0.1, "mode_seeking_motion": True})
    z_c, z_m = Trainer(cfg, tiny_dataset, CPU, seed=0)._latents()
    assert torch.equal(z_c[:2], z_c[2:]) and not torch.equal(z_m[:2], z_m[2:])


@pytest.mark.parametrize("option", ["shift", "glide", "diffaugment", "r1", "hinge"])
def test_each_discriminator_side_option_changes_the_run_and_stays_finite(tiny_dataset, option):
    overrides = {
        "shift": {"augment": {"shift": 0.125}},
        "glide": {"augment": {"glide": 0.03}},
        "diffaugment": {"augment": {"diffaugment": "color,translation,cutout"}},
        "r1": {"loss": {"r1": 1.0}},
        "hinge": {"loss": {"gan": "hinge"}},
    }[option]
    plain = Trainer(get_preset("tiny"), tiny_dataset, CPU, seed=0).fit(2, progress=False)[-1]
    other = Trainer(build_config("tiny", None, overrides), tiny_dataset, CPU, seed=0).fit(2, progress=False)[-1]
    assert other["d_loss"] == other["d_loss"] and other["g_loss"] == other["g_loss"]
    assert other["d_loss"] != plain["d_loss"]
    if option == "r1":
        assert other["d_r1"] > 0 and plain["d_r1"] == 0


def test_every_training_flag_reaches_the_config():
    from vosgan.cli.main import TRAIN_OPTIONS, TRAIN_SWITCHES, _overrides

    args = build_parser().parse_args(
        [
            "train",
            "--out",
            "x",
            "--mask-area",
            "0.2",
            "--flow-weight",
            "4",
            "--upsampling",
            "resize",
            "--mode-seeking-motion",
            "--balanced-segmentation",
        ]
    )
    cfg = build_config("small", None, _overrides(args))
    # --mask-area alone is kept (the old CLI dropped it without --mask-prior)
    assert cfg.loss.mask_area == 0.2 and cfg.loss.flow_weight == 4.0 and cfg.generator.upsampling == "resize"
    assert cfg.loss.mode_seeking_motion and cfg.loss.balanced_segmentation and cfg.loss.mask_prior == 0.0
    assert _overrides(build_parser().parse_args(["train", "--out", "x"])) == {}
    fields = {(section, name) for _, section, name, _, _ in TRAIN_OPTIONS}
    assert len(fields) == len(TRAIN_OPTIONS)
    needs = {"--sprite": ["--motion-layer", "velocity"]}  # a switch that only means something with another
    for flag, section, name, _ in TRAIN_SWITCHES:  # each on/off flag sets its own field only
        argv = ["train", "--out", "x", flag, *needs.get(flag, [])]
        cfg = build_config("small", None, _overrides(build_parser().parse_args(argv)))
        assert getattr(getattr(cfg, section), name) is True
        assert cfg.loss.gan == "standard" and cfg.loss.mask_prior == 0.0


def test_real_background_pastes_the_foreground_over_a_real_clips_median(tiny_dataset):
    from vosgan.training.augment import paste_on_backgrounds, temporal_median

    video = torch.zeros(2, 3, 5, 4, 4)
    video[:, :, :3] = 1.0  # three of five frames bright: the median is bright
    assert torch.equal(temporal_median(video), torch.ones(2, 3, 4, 4))
    mask = torch.zeros(3, 1, 2, 4, 4)
    mask[..., :2, :2] = 1
    out = GeneratorOutput(torch.zeros(3, 3, 2, 4, 4), torch.full((3, 3, 2, 4, 4), -1.0), torch.zeros(3, 3, 4, 4), mask)
    pasted = paste_on_backgrounds(out, torch.full((1, 3, 4, 4), 0.5), 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(pasted.video[..., :2, :2], torch.full((3, 3, 2, 2, 2), -1.0))  # the foreground stays
    assert torch.equal(pasted.video[..., 2:, 2:], torch.full((3, 3, 2, 2, 2), 0.5))  # the real background shows
    kept = paste_on_backgrounds(out, torch.full((1, 3, 4, 4), 0.5), 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(kept.video, out.mask * out.foreground)
    cfg = get_preset("tiny").with_overrides(augment={"real_background": 1.0})
    trainer = Trainer(cfg, tiny_dataset, CPU, seed=0)
    plain = Trainer(get_preset("tiny"), tiny_dataset, CPU, seed=0).fit(1, progress=False)[-1]
    assert trainer.fit(1, progress=False)[-1]["d_loss"] != plain["d_loss"] and trainer._backgrounds.shape[1:] == (
        3,
        32,
        32,
    )


def test_static_decoy_is_a_still_copy_labelled_background(tiny_dataset):
    from vosgan.training.augment import add_static_decoy

    t, size = 4, 32
    mask = torch.zeros(2, 1, t, size, size)
    for k in range(t):
        mask[:, :, k, 2:6, 2 + 2 * k : 6 + 2 * k] = 1  # a 4x4 object moving right 2 px per frame
    fg = torch.ones(2, 3, t, size, size)
    out = GeneratorOutput(mask * fg - (1 - mask), fg, -torch.ones(2, 3, size, size), mask)
    decoyed = add_static_decoy(out, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(decoyed.mask, mask)  # the target is the moving object only
    bright = (decoyed.video[:, 0] > 0).float()  # (B, T, H, W): object and decoy are both foreground-coloured
    assert (bright.sum(dim=(2, 3)) == 32).all()  # two 4x4 objects in every frame (the decoy 8-16 px away, wrapped)
    still = bright - mask[:, 0]
    assert (still[:, :1] == still).all()  # the decoy does not move
    assert torch.equal(add_static_decoy(out, 0.0, torch.Generator().manual_seed(0)).video, out.video)
    cfg = get_preset("tiny").with_overrides(augment={"static_decoy": 1.0})
    plain = Trainer(get_preset("tiny"), tiny_dataset, CPU, seed=0).fit(1, progress=False)[-1]
    assert Trainer(cfg, tiny_dataset, CPU, seed=0).fit(1, progress=False)[-1]["d_loss"] != plain["d_loss"]


def test_camouflage_dresses_the_object_in_its_own_background(tiny_dataset):
    from vosgan.training.augment import camouflage_foreground

    b, t, size = 3, 4, 32
    background = torch.randn(b, 3, size, size)
    mask = torch.zeros(b, 1, t, size, size)
    mask[..., 8:16, 8:16] = 1
    foreground = torch.ones(b, 3, t, size, size)
    out = GeneratorOutput.compose(foreground, background, mask)
    dressed = camouflage_foreground(out, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(dressed.mask, mask) and torch.equal(dressed.background, background)
    assert (dressed.foreground == dressed.foreground[:, :, :1]).all()  # a still texture
    for k in range(b):  # the texture is the clip's own background, moved with wrap-around (same pixels)
        moved = [torch.roll(background[k], (dy, dx), dims=(1, 2)) for dy in range(size) for dx in range(size)]
        assert any(torch.equal(dressed.foreground[k, :, 0], m) for m in moved)
    recomposed = mask * dressed.foreground + (1 - mask) * background[:, :, None]
    assert torch.equal(dressed.video, recomposed)
    assert torch.equal(camouflage_foreground(out, 0.0, torch.Generator().manual_seed(0)).video, out.video)
    with pytest.raises(ValueError, match="camouflage"):
        get_preset("tiny").with_overrides(augment={"camouflage": 1.5})
    cfg = get_preset("tiny").with_overrides(augment={"camouflage": 1.0, "glide": 0.05})
    glide = get_preset("tiny").with_overrides(augment={"glide": 0.05})
    plain = Trainer(glide, tiny_dataset, CPU, seed=0).fit(1, progress=False)[-1]
    assert Trainer(cfg, tiny_dataset, CPU, seed=0).fit(1, progress=False)[-1]["d_loss"] != plain["d_loss"]
