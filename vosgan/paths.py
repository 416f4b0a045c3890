"""Where the kit's shipped files live: one place for every path the code defaults to."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
CHECKPOINTS_DIR = ROOT / "checkpoints"
SHIPPED = CHECKPOINTS_DIR / "vosgan-small.pt"  # the GAN (model card: checkpoints/README.md)
FEATURES_CHECKPOINT = CHECKPOINTS_DIR / "features-small.pt"  # the kit's feature network (vosgan.metrics.featurenet)
CIS_CHECKPOINT = CHECKPOINTS_DIR / "cis.pt"  # CIS with the paper's training settings
CIS_FARNEBACK_CHECKPOINT = CHECKPOINTS_DIR / "cis-farneback.pt"  # CIS with switches not in the paper
FASTGAN_CHECKPOINT = CHECKPOINTS_DIR / "fastgan.pt"
