"""Table 4 of the journal paper on the embedded benchmark: each ablation row trained with the same
budget, seed and data, then scored with the generation metrics (mean +- std over sets)."""

from __future__ import annotations

from pathlib import Path

from vosgan.config import ABLATIONS, build_config


def train_rows(
    out: str | Path,
    preset: str = "small",
    overrides: dict | None = None,
    rows=tuple(ABLATIONS),
    iterations: int = 300,
    videos: int = 1000,
    seed: int = 0,
    progress: bool = False,
    threads: int | None = None,
) -> dict[str, Path]:
    """Train each ablation row (``overrides``: the recipe shared by every row, e.g. the shipped one's)
    into ``out/<row>``; an existing finished row is kept. Returns {row: checkpoint path}."""
    from functools import cache

    from vosgan.data.sources import load_dataset
    from vosgan.training.runs import train_once

    @cache
    def dataset():  # one dataset for every row, made only if a row still has to train
        cfg = build_config(preset, None, overrides)
        return load_dataset(cfg, "synthetic", "davis", "unlabeled", videos, seed, progress=progress)

    paths = {}
    for row in rows:
        folder = Path(out) / row.replace("+", "plus_")
        paths[row] = train_once(
            build_config(preset, row, overrides), dataset, folder, iterations, seed, "cpu", progress, threads
        )
    return paths


def score_rows(checkpoints: dict[str, Path], extractor, sets: int = 20, per_set: int = 64, seed: int = 0) -> list[dict]:
    """[{row, steps, scores: {metric: GenerationScore dict}}] for each trained row."""
    from vosgan.metrics.generation import real_clips, score_generation
    from vosgan.models.checkpoint import load_checkpoint, load_models

    table = []
    for row, path in checkpoints.items():
        cfg, gen, disc = load_models(path)
        scores = score_generation(gen, disc, real_clips(cfg.frames, cfg.size), extractor, sets, per_set, seed)
        steps = load_checkpoint(path).get("step")
        table.append({"row": row, "steps": steps, "scores": {k: s.to_dict() for k, s in scores.items()}})
    return table


def table_text(table: list[dict]) -> str:
    """Markdown: one line per row, each metric as mean +- std."""
    metrics = list(table[0]["scores"])
    lines = ["| row | steps | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 2) + "|"]
    for r in table:
        cells = [f"{r['scores'][m]['mean']:.3f} +- {r['scores'][m]['std']:.3f}" for m in metrics]
        lines.append(f"| {r['row']} | {r['steps']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
