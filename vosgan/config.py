"""Configuration: frozen dataclasses, named presets and the Table 4 ablations.

Presets are data, not code paths: ``paper`` is Tables 1-2 of the journal paper exactly, ``small``
and ``tiny`` shrink widths, frames and resolution so the pipeline trains on a 2-core CPU.
Configs round-trip through plain dicts so checkpoints can store them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

TRAJECTORIES = ("slerp", "lerp", "random")
MOTION_ENCODERS = ("lstm", "none")
UPSAMPLING = ("transposed", "resize")
MOTION_LAYERS = ("none", "velocity", "steps")
GAN_LOSSES = ("standard", "hinge")
FLOW_LOSSES = ("mse", "epe")
AUGMENTATIONS = ("color", "translation", "cutout")
PRECISIONS = ("auto", "fp32", "bf16")
REFINEMENTS = ("none", "guided", "crf")  # vosgan.segmentation.refine
MAX_SHIFT, MAX_GLIDE = 0.5, 0.25  # augment.shift (share of the size) and augment.glide (share per frame)


@dataclass(frozen=True)
class LatentConfig:
    """Latent spaces: scene ``z_c`` (d,) and motion trajectory ``z_m`` (T, d)."""

    dim: int = 100  # d in the paper, for both z_C and each point of z_M
    trajectory: str = "slerp"  # 'slerp' (paper), 'lerp', or 'random' independent points


@dataclass(frozen=True)
class GeneratorConfig:
    """Generator widths (Table 1); ``ngf`` is the channel count at half resolution (64 in the paper)."""

    ngf: int = 64
    motion_encoder: str = "lstm"  # 'lstm' (paper) or 'none' (mean of the trajectory, Table 4 baseline)
    motion_hidden: int = 100  # the RNN's output size, 100x1x1 in Table 1
    # Not in the paper (off in every preset): 'resize' replaces each stride-2 transposed convolution
    # by nearest-neighbour upsampling and a 3x3(x3) convolution (Odena et al. 2016), against the
    # checkerboard pattern that marks the foreground without any motion.
    upsampling: str = "transposed"
    mask_bias: float = 0.0  # initial bias of the mask head: negative values start with small masks
    # Not in the paper (off in every preset, docs/architecture.md): a motion layer after the foreground
    # stream that translates the foreground and the mask by a differentiable warp (spatial transformers,
    # Jaderberg et al. 2015; layered sprite generators, Monnier et al. 2021), so z_M sets the trajectory.
    # 'velocity': one velocity per clip from the motion encoder's summary of z_M; 'steps': one per frame
    # from the LSTM's state at that frame. The object sits where the stream put it at the middle frame.
    motion_layer: str = "none"
    motion_speed: float = 0.03  # the layer's top speed per axis (tanh's bound), share of the side per frame
    # With the motion layer: the foreground and mask the stream makes are averaged over time before the
    # warp (a rigid sprite), so the object moves without changing its shape or size.
    sprite: bool = False


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Discriminator widths (Table 2); ``ndf`` is the first layer's channel count (64 in the paper)."""

    ndf: int = 64


@dataclass(frozen=True)
class LossConfig:
    """Switches and weights of Eq. 2-3; every term can be turned off for the Table 4 ablation."""

    segmentation: bool = True  # NLL of D_seg(G(z)) against the generator's own mask m(z)
    flow: bool = True  # squared error of D_opt against Farneback flow, fake and real clips
    alpha_schedule: bool = True  # alpha grows by s_alpha per epoch from epoch E_alpha
    alpha: float = 1.0  # initial alpha
    s_alpha: float = 0.2
    e_alpha: int = 2  # first (0-based) epoch at which alpha has grown once
    flow_max_fraction: float = 0.125  # |flow| of this share of the frame width maps to the sigmoid's edge
    # Not in either VOS-GAN paper (see docs/architecture.md), 0 (off) in every preset: a prior on the
    # mask added to the generator loss, mask_prior * (|area of each frame's mask - mask_area| +
    # mask_binary * mean(m (1 - m))). With mask_area 0 it is VGAN's L1 sparsity prior. Scale: a mean
    # over pixels, so mask_prior ~ 10 pushes each pixel with about a tenth of the adversarial gradient
    # measured early in a `small` run (2.7e-4 per pixel at batch 16).
    mask_prior: float = 0.0
    mask_area: float = 0.0  # target share of each frame's pixels (the embedded benchmark's objects: ~0.1)
    mask_binary: float = 0.0  # weight of the crispness term, relative to the area term
    # Not in either VOS-GAN paper, 0 (off) in every preset: MSGAN's mode-seeking term (Mao et al.,
    # CVPR 2019) on the mask, mode_seeking / (d(m1, m2) / d(z1, z2) + eps) over pairs of clips of a
    # batch, against generators that put the same mask in every sample.
    mode_seeking: float = 0.0
    # With mode seeking on: pair clips that share z_C and differ in z_M only, so the term asks z_M
    # (not z_C) to move the mask (an adaptation of MSGAN to the two latent spaces; not in a paper).
    mode_seeking_motion: bool = False
    flow_weight: float = 1.0  # multiplies alpha in Eq. 2 (1 in the paper)
    # 'mse': Eq. 2's squared L2 norm in the [0, 1] target range; 'epe': the end-point error in pixels
    # per frame (FlowNet's training loss, Dosovitskiy et al. 2015), which is not small for ~1 px motion.
    flow_loss: str = "mse"
    # Multiplies Eq. 2's segmentation NLL (1 in the paper). Measured: under DiffAugment and the balanced
    # NLL, D's segmentation of its own fakes stays near chance (0.67 against 0.69) at weight 1.
    segmentation_weight: float = 1.0
    # Not in the paper, off in every preset: Eq. 2's segmentation NLL class-balanced (each class weighed
    # by the other's share in the batch), as OSVOS and FaSTGAN's Eq. 2 train segmenters on small objects.
    balanced_segmentation: bool = False
    # Options from the literature (docs/architecture.md), all off in every preset:
    gan: str = "standard"  # 'standard' (Eq. 2-3) or 'hinge' (Lim & Ye 2017; ReDO, SAGAN)
    r1: float = 0.0  # gamma of the R1 penalty gamma/2 E|grad_x D(x)|^2 on real clips (Mescheder et al. 2018)
    # Per-clip two-sided hinge on the mask area, relu(area_min - a) + relu(a - area_max), and the
    # binarisation term mean(min(m, 1 - m)) (Bielski & Favaro 2019), each with its weight.
    area_hinge: float = 0.0
    area_min: float = 0.05
    area_max: float = 0.3
    binarize: float = 0.0
    # Weight of a compactness prior on each frame's mask: its normalised moment of inertia, 1 for a disc
    # and larger for outlines, stripes and scattered blobs (the compact-shape priors of interactive
    # segmentation, e.g. Das, Veksler & Boykov 2009; here on G's masks). Not in the papers.
    compactness: float = 0.0


@dataclass(frozen=True)
class AugmentConfig:
    """What is done to clips around the discriminator (``vosgan.training.augment``): none of it is in the
    VOS-GAN papers, all of it is off in every preset (docs/architecture.md)."""

    # Bielski & Favaro 2019: foreground and mask shifted together relative to the background by a
    # random integer offset per clip (up to shift x size pixels), the same for all frames.
    shift: float = 0.0
    # The kit's own, after Bielski & Favaro: foreground and mask glide together at one random constant
    # velocity per clip (each component uniform in [-glide, glide] x size pixels per frame) over the
    # still background, so G's objects move like the data's whatever G's own motion does.
    glide: float = 0.0
    # DiffAugment (Zhao et al. 2020) on real and generated clips before D, one draw per clip for all
    # frames: any of 'color', 'translation', 'cutout', comma-separated ('' = off).
    diffaugment: str = ""
    # After the copy-pasting GAN (Arandjelovic & Zisserman 2019), for video: this share of generated
    # clips (per clip) composites G's foreground and mask over a real background, the per-pixel
    # temporal median of a clip of the current real batch (a static camera makes it the scene
    # without its moving objects), instead of b(z_C).
    real_background: float = 0.0
    # The kit's own (not in a paper): this share of the discriminator's generated clips gets a still
    # copy of the generated object elsewhere in the frame, labelled background: only motion tells the
    # segmentation target from the decoy, so D's segmentation cannot rest on the generator's textures.
    static_decoy: float = 0.0
    # The kit's own (not in a paper): this share of the discriminator's generated clips takes a patch
    # of its own background as the object's texture (before the glide), so only the object's motion
    # tells it from the scene and D's segmentation of it must come from motion.
    camouflage: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(filter(None, self.diffaugment.split(","))) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"augment.diffaugment: unknown policies {sorted(unknown)}; choose from {AUGMENTATIONS}")
        if not 0 <= self.glide <= MAX_GLIDE:
            raise ValueError(
                f"augment.glide is a speed in [0, {MAX_GLIDE}] (share of the size per frame), got {self.glide}"
            )
        if not 0 <= self.shift <= MAX_SHIFT:
            raise ValueError(f"augment.shift is a share of the size in [0, {MAX_SHIFT}], got {self.shift}")
        for name in ("static_decoy", "camouflage", "real_background"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"augment.{name} is a probability, got {getattr(self, name)}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of Sect. 4.2."""

    batch_size: int = 16
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    epochs: int = 25
    # Generator updates per discriminator update: 1 in the paper (strict alternation); more is an
    # option for runs in which the discriminator dominates (D(G(z)) near 0).
    g_steps: int = 1
    # Separate learning rates (None: ``lr``); not in the paper.
    lr_g: float | None = None
    lr_d: float | None = None
    ema: float = 0.0  # decay of an EMA copy of the generator for samples and snapshots (0: off)
    # Decay of an EMA copy of the discriminator (weights and BatchNorm statistics) for the segmentation
    # that is evaluated, snapshotted and exported (0: off); not in the paper.
    ema_d: float = 0.0
    # Real training clips D's BatchNorm statistics are recomputed on before each real-clip evaluation;
    # the snapshot (best.pt) keeps them (0: off; vosgan.training.recalibrate). Not in the paper.
    bn_clips: int = 0
    # Forward passes' precision (not in the paper, which predates it): 'auto' is bf16 autocast on CUDA and
    # on CPUs with native bf16 (AVX512-BF16, AMX), fp32 elsewhere; 'fp32' or 'bf16' force one.
    precision: str = "auto"


@dataclass(frozen=True)
class SegmentConfig:
    """How the discriminator segments a real video (not in the paper, which resizes to the training size)."""

    # Pixels high a video is segmented at, keeping its aspect ratio (a multiple of 8; 0: the preset's
    # square frame, as the network was trained). Chosen per model by val J (``vosgan export --working-size``).
    working_size: int = 0
    # How the map is brought to the frame's resolution (``vosgan.segmentation.refine``): 'none' (bilinear, the
    # paper's evaluation), 'guided' (an edge-aware guided filter; He et al. 2013), 'crf' (CIS's dense
    # CRF). Chosen per model on val (``vosgan export --refine``); the guided filter's window radius as
    # a share of the map's height and its regulariser.
    refine: str = "none"
    refine_radius: float = 0.18
    refine_eps: float = 1e-4

    def __post_init__(self) -> None:
        if self.refine not in REFINEMENTS:
            raise ValueError(f"segment.refine must be one of {REFINEMENTS}, got {self.refine!r}")
        if not 0 < self.refine_radius <= 1 or self.refine_eps <= 0:
            raise ValueError(
                "segment.refine_radius must be in (0, 1] (a share of the map's height) and segment.refine_eps > 0, "
                f"got {self.refine_radius} and {self.refine_eps}"
            )


@dataclass(frozen=True)
class VOSGANConfig:
    """The whole model: clip geometry plus each component's settings."""

    name: str = "paper"
    size: int = 64  # H = W
    frames: int = 32  # T
    latent: LatentConfig = field(default_factory=LatentConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)

    def __post_init__(self) -> None:
        # Table 1 reaches the frame size with power-of-two upsamplings from 4x4, and its foreground
        # stream has half as many frames as pixels per side (64x64, 32 frames).
        if self.size < 32 or 2 ** int(math.log2(self.size)) != self.size:
            raise ValueError(f"size must be a power of two >= 32, got {self.size}")
        if self.frames * 2 != self.size:
            raise ValueError(f"frames must be size/2 (Table 1's geometry), got size={self.size}, frames={self.frames}")
        if self.train.g_steps < 1:
            raise ValueError(f"train.g_steps must be >= 1, got {self.train.g_steps}")
        if self.generator.upsampling not in UPSAMPLING:
            raise ValueError(f"generator.upsampling must be one of {UPSAMPLING}, got {self.generator.upsampling!r}")
        g = self.generator
        if g.motion_layer not in MOTION_LAYERS:
            raise ValueError(f"generator.motion_layer must be one of {MOTION_LAYERS}, got {g.motion_layer!r}")
        if g.motion_layer == "steps" and g.motion_encoder != "lstm":
            raise ValueError(
                "generator.motion_layer 'steps' reads the LSTM's state at each frame: motion_encoder 'lstm'"
            )
        if not 0 < g.motion_speed <= 0.25:
            raise ValueError(
                f"generator.motion_speed is a share of the side per frame in (0, 0.25], got {g.motion_speed}"
            )
        if g.sprite and g.motion_layer == "none":
            raise ValueError("generator.sprite holds the object rigid for the motion layer: set generator.motion_layer")
        if self.loss.flow_loss not in FLOW_LOSSES:
            raise ValueError(f"loss.flow_loss must be one of {FLOW_LOSSES}, got {self.loss.flow_loss!r}")
        if self.loss.gan not in GAN_LOSSES:
            raise ValueError(f"loss.gan must be one of {GAN_LOSSES}, got {self.loss.gan!r}")
        if self.segment.working_size < 0 or self.segment.working_size % 8:
            raise ValueError(f"segment.working_size must be 0 or a multiple of 8, got {self.segment.working_size}")
        if self.train.precision not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {PRECISIONS}, got {self.train.precision!r}")
        if self.train.bn_clips < 0:
            raise ValueError(f"train.bn_clips is a number of clips, got {self.train.bn_clips}")
        for name in ("ema", "ema_d"):
            if not 0 <= getattr(self.train, name) < 1:
                raise ValueError(f"train.{name} must be in [0, 1), got {getattr(self.train, name)}")
        if self.latent.trajectory not in TRAJECTORIES:
            raise ValueError(f"latent.trajectory must be one of {TRAJECTORIES}, got {self.latent.trajectory!r}")
        if self.generator.motion_encoder not in MOTION_ENCODERS:
            raise ValueError(
                f"generator.motion_encoder must be one of {MOTION_ENCODERS}, got {self.generator.motion_encoder!r}"
            )
        if self.generator.motion_encoder == "none" and self.generator.motion_hidden != self.latent.dim:
            raise ValueError(
                "with motion_encoder='none' the trajectory mean is used: motion_hidden must equal latent.dim"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VOSGANConfig:
        """Rebuild a config from ``to_dict`` output; unknown keys are an error, not silently dropped.
        Configs written before augmentation had its own section carry its fields under ``loss``."""
        loss = dict(data.get("loss", {}))
        moved = {k: loss.pop(k) for k in list(loss) if k in {f.name for f in fields(AugmentConfig)}}
        if moved:
            data = {**data, "loss": loss, "augment": {**moved, **data.get("augment", {})}}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            sub = _SUBCONFIGS.get(f.name)
            kwargs[f.name] = _build(sub, value) if sub else value
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**kwargs)

    def with_overrides(self, **sections: dict[str, Any]) -> VOSGANConfig:
        """A copy with some fields of sub-configs replaced, e.g. ``loss={'flow': False}``."""
        out = self
        for name, values in sections.items():
            if name in _SUBCONFIGS:
                out = replace(out, **{name: replace(getattr(out, name), **values)})
            else:
                out = replace(out, **{name: values})
        return out


_SUBCONFIGS = {
    "latent": LatentConfig,
    "generator": GeneratorConfig,
    "discriminator": DiscriminatorConfig,
    "loss": LossConfig,
    "augment": AugmentConfig,
    "train": TrainConfig,
    "segment": SegmentConfig,
}


# Keys renamed since a checkpoint may have been written: old name -> new name (same meaning).
_RENAMED = {"mask_sparsity": "mask_prior"}


def _build(cls: type, data: dict[str, Any]) -> Any:
    data = {_RENAMED.get(k, k): v for k, v in data.items()}
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**data)


def setting_changes(old: VOSGANConfig, new: VOSGANConfig, sections=None) -> dict[str, dict[str, tuple]]:
    """The fields of ``sections`` (default: every sub-config) that differ from ``old`` to ``new``:
    {section: {key: (old, new)}}."""
    sections = sections or tuple(_SUBCONFIGS)
    a, b = old.to_dict(), new.to_dict()
    changes = {name: {k: (v, b[name][k]) for k, v in a[name].items() if v != b[name][k]} for name in sections}
    return {name: values for name, values in changes.items() if values}


PRESETS: dict[str, VOSGANConfig] = {
    "paper": VOSGANConfig(),
    # 32x32, 16 frames, a quarter of the paper's widths: the shipped model, trainable on 2 CPU cores.
    "small": VOSGANConfig(
        name="small",
        size=32,
        frames=16,
        generator=GeneratorConfig(ngf=16),
        discriminator=DiscriminatorConfig(ndf=16),
    ),
    # The smallest geometry, 1/16 of the widths and 16-d latents: for tests and smoke runs.
    "tiny": VOSGANConfig(
        name="tiny",
        size=32,
        frames=16,
        latent=LatentConfig(dim=16),
        generator=GeneratorConfig(ngf=4, motion_hidden=16),
        discriminator=DiscriminatorConfig(ndf=4),
        train=TrainConfig(batch_size=4),
    ),
}


def get_preset(name: str) -> VOSGANConfig:
    """The named preset (``paper``, ``small``, ``tiny``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None


# Table 4, row by row: each ablation adds one component to the previous one.
ABLATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "baseline": {
        "latent": {"trajectory": "random"},
        "generator": {"motion_encoder": "none"},
        "loss": {"segmentation": False, "flow": False, "alpha_schedule": False},
    },
    "+slerp": {
        "latent": {"trajectory": "slerp"},
        "generator": {"motion_encoder": "none"},
        "loss": {"segmentation": False, "flow": False, "alpha_schedule": False},
    },
    "+lstm": {"loss": {"segmentation": False, "flow": False, "alpha_schedule": False}},
    "+segmentation": {"loss": {"flow": False, "alpha_schedule": False}},
    "+flow": {"loss": {"alpha_schedule": False}},
    "+alpha": {},
}


def ablation(preset: str, name: str) -> VOSGANConfig:
    """The preset with one Table 4 ablation row applied."""
    if name not in ABLATIONS:
        raise KeyError(f"unknown ablation {name!r}; choose one of {list(ABLATIONS)}")
    cfg = get_preset(preset)
    overrides = dict(ABLATIONS[name])
    gen = overrides.get("generator", {})
    if gen.get("motion_encoder") == "none":
        overrides["generator"] = {**gen, "motion_hidden": cfg.latent.dim}
    return cfg.with_overrides(**overrides)


def build_config(
    preset: str, ablation_name: str | None = None, overrides: dict[str, dict] | None = None
) -> VOSGANConfig:
    """The one config builder: a preset, optionally one Table 4 ablation row, then field overrides
    (``{'loss': {'flow_weight': 5.0}, 'train': {...}}``); the CLI and the notebooks call this."""
    cfg = ablation(preset, ablation_name) if ablation_name else get_preset(preset)
    return cfg.with_overrides(**(overrides or {}))


def recipe(cfg: VOSGANConfig) -> dict[str, dict]:
    """The settings of ``cfg`` that differ from its preset (networks, losses, training), as
    ``with_overrides`` sections (``epochs`` left out): how a trained model's recipe is passed on,
    e.g. to notebook 03 (``--upsampling resize`` is a generator setting)."""
    changes = setting_changes(get_preset(cfg.name), cfg)
    sections = {name: {k: new for k, (_, new) in values.items() if k != "epochs"} for name, values in changes.items()}
    return {name: values for name, values in sections.items() if values}
