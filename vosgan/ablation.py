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
    from vosgan.data.sources import load_dataset
    from vosgan.runs import run_training

    paths = {}
    dataset = None
    for row in rows:
        cfg = build_config(preset, row, overrides)
        folder = Path(out) / row.replace("+", "plus_")
        path = folder / "checkpoint.pt"
        if not (folder / "DONE").exists():
            if dataset is None:
                dataset = load_dataset(cfg, "synthetic", "davis", "unlabeled", videos, seed, progress=progress)
            run_training(
                cfg,
                dataset,
                folder,
                iterations,
                seed,
                device="cpu",
                checkpoint_every=0,
                sample_every=0,
                progress=progress,
                threads=threads,
                resume=path.exists(),
            )
            (folder / "DONE").touch()
        paths[row] = path
    return paths


def score_rows(checkpoints: dict[str, Path], extractor, sets: int = 20, per_set: int = 64, seed: int = 0) -> list[dict]:
    """[{row, steps, scores: {metric: GenerationScore dict}}] for each trained row."""
    from vosgan.checkpoint import load_checkpoint, load_models
    from vosgan.commands import real_clips
    from vosgan.metrics.generation import score_generation

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
