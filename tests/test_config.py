import dataclasses

import pytest

from vosgan.config import ABLATIONS, PRESETS, VOSGANConfig, ablation, get_preset, recipe, setting_changes


def test_paper_preset_is_tables_1_2():
    cfg = get_preset("paper")
    assert (cfg.size, cfg.frames, cfg.latent.dim) == (64, 32, 100)
    assert cfg.generator.ngf == 64 and cfg.discriminator.ndf == 64 and cfg.generator.motion_hidden == 100
    assert cfg.latent.trajectory == "slerp" and cfg.generator.motion_encoder == "lstm"
    t = cfg.train
    assert (t.batch_size, t.lr, t.beta1, t.beta2) == (16, 2e-4, 0.5, 0.999)
    loss = cfg.loss
    assert (loss.alpha, loss.s_alpha, loss.e_alpha) == (1.0, 0.2, 2)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip_and_are_frozen(name):
    cfg = get_preset(name)
    assert VOSGANConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.size = 8


def test_presets_shrink_monotonically():
    paper, small, tiny = (get_preset(n) for n in ("paper", "small", "tiny"))
    assert paper.generator.ngf > small.generator.ngf > tiny.generator.ngf
    assert paper.size >= small.size >= tiny.size


def test_bad_values_are_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="frames must be size/2"):
        VOSGANConfig(size=64, frames=16)
    with pytest.raises(ValueError, match="power of two"):
        VOSGANConfig(size=48, frames=24)
    with pytest.raises(ValueError, match="trajectory"):
        get_preset("tiny").with_overrides(latent={"trajectory": "spline"})
    with pytest.raises(KeyError, match="unknown preset"):
        get_preset("huge")
    with pytest.raises(ValueError, match="unknown config keys"):
        VOSGANConfig.from_dict({"size": 64, "colour": 1})
    # the bounds the CLI checks at its parser are the config's own (a config from a file meets them too)
    for key, bad in (("shift", 0.6), ("glide", 0.3), ("glide", -0.1), ("camouflage", 1.5)):
        with pytest.raises(ValueError, match=f"augment.{key} is a"):
            get_preset("tiny").with_overrides(augment={key: bad})
    from vosgan.cli.main import main

    with pytest.raises(SystemExit):
        main(["train", "--preset", "tiny", "--out", "x", "--glide", "0.3"])


def test_ablation_rows_switch_the_right_things():
    base = ablation("tiny", "baseline")
    assert base.latent.trajectory == "random" and base.generator.motion_encoder == "none"
    assert not (base.loss.segmentation or base.loss.flow or base.loss.alpha_schedule)
    assert ablation("tiny", "+slerp").latent.trajectory == "slerp"
    assert ablation("tiny", "+lstm").generator.motion_encoder == "lstm"
    seg = ablation("tiny", "+segmentation")
    assert seg.loss.segmentation and not seg.loss.flow
    assert ablation("tiny", "+alpha") == get_preset("tiny")
    assert list(ABLATIONS) == ["baseline", "+slerp", "+lstm", "+segmentation", "+flow", "+alpha"]


def test_setting_changes_names_the_changed_fields_of_every_section():
    small = get_preset("small")
    changed = small.with_overrides(loss={"mode_seeking": 0.2}, train={"g_steps": 2}, generator={"upsampling": "resize"})
    loss_train = {"loss": {"mode_seeking": (0.0, 0.2)}, "train": {"g_steps": (1, 2)}}
    assert setting_changes(small, changed) == {**loss_train, "generator": {"upsampling": ("transposed", "resize")}}
    assert setting_changes(small, changed, ("loss", "train")) == loss_train
    assert setting_changes(small, small) == {}


def test_recipe_carries_network_settings_so_a_retrained_model_has_the_same_architecture():
    changed = get_preset("small").with_overrides(generator={"upsampling": "resize"}, train={"g_steps": 2, "epochs": 3})
    passed_on = recipe(changed)
    assert passed_on == {"generator": {"upsampling": "resize"}, "train": {"g_steps": 2}}  # epochs left out
    assert get_preset("small").with_overrides(**passed_on).generator == changed.generator


def test_a_config_written_before_augment_had_its_own_section_still_loads():
    """The shipped checkpoints and older runs carry the augmentation fields under ``loss``."""
    old = get_preset("small").to_dict()
    old["loss"] = {**old["loss"], "glide": 0.03, "diffaugment": "color,cutout", "mask_prior": 10.0}
    del old["augment"]
    cfg = VOSGANConfig.from_dict(old)
    assert cfg.augment.glide == 0.03 and cfg.augment.diffaugment == "color,cutout" and cfg.loss.mask_prior == 10.0
    assert VOSGANConfig.from_dict(cfg.to_dict()) == cfg
    from vosgan.models.checkpoint import load_checkpoint
    from vosgan.paths import SHIPPED

    shipped = load_checkpoint(SHIPPED)
    assert "diffaugment" in shipped["config"]["loss"]  # the file as written
    assert VOSGANConfig.from_dict(shipped["config"]).augment.diffaugment == "color,translation,cutout"
