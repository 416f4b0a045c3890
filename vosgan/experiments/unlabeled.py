"""More unlabeled video, better segmentation? (journal paper, Fig. 8)

GAN training on growing shares of the embedded benchmark's unlabeled pool, same steps and seed, then
the adversarial segmenter's J and F on the test split, with the least-squares line the paper draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from vosgan.config import VOSGANConfig


@dataclass
class UnlabeledCurve:
    """Rows (fraction, videos, J, F, J_frozen) and the least-squares lines J = a * fraction + b, F likewise."""

    rows: list[dict]

    def line(self, key: str = "J") -> tuple[float, float]:
        """(slope, intercept) of the least-squares line of ``key`` against the fraction (per unit share)."""
        x = np.array([r["fraction"] for r in self.rows])
        y = np.array([r[key] for r in self.rows])
        if len(x) < 2:
            return float("nan"), float(y.mean()) if len(y) else float("nan")
        slope, intercept = np.polyfit(x, y, 1)
        return float(slope), float(intercept)

    def table(self) -> str:
        lines = ["| unlabeled share | videos | J | F | J frozen |", "|---|---|---|---|---|"]
        lines += [
            f"| {r['fraction']:.0%} | {r['videos']} | {100 * r['J']:.1f} | {100 * r['F']:.1f} | "
            f"{100 * r['J_frozen']:.1f} |"
            for r in self.rows
        ]
        slope, intercept = self.line("J")
        lines.append(f"\nLeast squares: J = {100 * slope:.1f} x share + {100 * intercept:.1f} (J in %).")
        return "\n".join(lines)


def unlabeled_curve(
    cfg: VOSGANConfig,
    out: str | Path,
    pool: int,
    fractions=(0.1, 0.25, 0.5, 1.0),
    iterations: int = 200,
    seed: int = 0,
    test_count: int = 200,
    progress: bool = False,
    threads: int | None = None,
    device: str = "auto",
) -> UnlabeledCurve:
    """Train one GAN per share of a ``pool``-clip unlabeled set (the first ``round(share * pool)``
    clips, so smaller sets are subsets of larger ones) for ``iterations`` steps with ``seed``, each in
    ``out/share_<pct>`` (a finished share is kept), and score its discriminator on the test split of a
    ``test_count``-clip benchmark."""
    from vosgan.data.sources import load_dataset
    from vosgan.models.checkpoint import load_models
    from vosgan.segmentation.evaluation import RealClips, segmenter_scores
    from vosgan.training.runs import train_once

    test = RealClips.benchmark("test", count=test_count)
    rows = []
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"shares of the unlabeled pool must be in (0, 1], got {fraction}")
        videos = max(1, round(fraction * pool))
        folder = Path(out) / f"share_{round(100 * fraction):03d}"
        data = partial(load_dataset, cfg, "synthetic", "davis", "unlabeled", videos, seed, 0.0, progress=progress)
        checkpoint = train_once(cfg, data, folder, iterations, seed, device, progress, threads)
        scores = segmenter_scores(load_models(checkpoint)[2], cfg, test)
        rows.append({"fraction": fraction, "videos": videos, **scores})
    return UnlabeledCurve(rows)
