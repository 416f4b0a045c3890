"""vosgan: VOS-GAN, a video GAN whose discriminator becomes an unsupervised video object segmenter.

The names below are the kit's public face, importable as ``from vosgan import NAME``; each is loaded
on first use from the room that owns it (docs/usage.md draws the layout).
"""

from importlib import import_module

__version__ = "0.1.0"

PUBLIC = {
    "vosgan.config": ["VOSGANConfig", "SegmentConfig", "build_config", "get_preset", "recipe"],
    "vosgan.device": ["resolve_device", "seed_everything"],
    "vosgan.data.sources": ["load_dataset"],
    "vosgan.data.synthetic": ["make_benchmark", "write_benchmark"],
    "vosgan.models": ["Generator", "Discriminator", "GeneratorOutput", "DiscriminatorOutput"],
    "vosgan.models.checkpoint": ["load_checkpoint", "load_models", "save_checkpoint"],
    "vosgan.models.sampling": ["LatentPoint", "samples", "render"],
    "vosgan.training.runs": ["run_training"],
    "vosgan.segmentation.video": ["segment_frames", "segment_path"],
    "vosgan.segmentation.refine": ["refine"],
    "vosgan.segmentation.evaluation": ["SegmenterEvaluation"],
    "vosgan.methods": ["load_segmenter", "segment_video"],
    "vosgan.metrics.evaluate": ["evaluate_arrays", "evaluate_folders"],
    "vosgan.exploration.widgets": ["LatentExplorer"],
    "vosgan.experiments.segmentation": ["SegmentationExperiment"],
    "vosgan.experiments.compare": ["compare"],
}
_OWNER = {name: module for module, names in PUBLIC.items() for name in names}
__all__ = sorted(_OWNER)


def __getattr__(name: str):
    if name in _OWNER:
        return getattr(import_module(_OWNER[name]), name)
    raise AttributeError(f"module 'vosgan' has no attribute {name!r}")
