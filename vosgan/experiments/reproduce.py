"""The main job: run the notebooks in order with papermill, executed copies to a run folder,
figures to ``figures/``. ``python -m vosgan.experiments.reproduce`` (``make all``)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from vosgan.config import VOSGANConfig, recipe
from vosgan.models.checkpoint import load_checkpoint
from vosgan.paths import NOTEBOOKS_DIR, SHIPPED


def plan(out: Path, figures: Path, checkpoint: Path, train_iterations: int, seed: int) -> list[tuple[str, dict]]:
    """(notebook, papermill parameters) in order; paths are absolute so each notebook's folder does not matter."""
    training = out / "training"
    common = {"figures_dir": str(figures)}
    return [
        ("00_data.ipynb", {**common, "seed": seed}),
        ("01_architecture.ipynb", {**common, "preset": "paper", "seed": seed}),
        ("02_latent_trajectories.ipynb", {**common, "checkpoint": str(checkpoint)}),
        (
            "03_training.ipynb",
            {
                **common,
                "preset": "small",
                "overrides": recipe(VOSGANConfig.from_dict(load_checkpoint(checkpoint)["config"])),
                "iterations": train_iterations,
                "videos": 600,
                "seed": seed,
                "out": str(training),
            },
        ),
        (
            "04_segmentation_evaluation.ipynb",
            {
                **common,
                "checkpoint": str(checkpoint),
                "seed": seed,
                # Three fine-tuning seeds per curve point (the spread between seeds is as large as the
                # effect); 200 steps and three label shares keep the notebook near 10 minutes on 2 cores.
                "iterations": 200,
                "fractions": [0.1, 0.25, 1.0],
                "curve_seeds": 3,
                "results_json": str(out / "segmentation_results.json"),
            },
        ),
        (
            "05_generation_and_representation.ipynb",
            {
                **common,
                "checkpoint": str(checkpoint),
                "seed": seed,
                "out": str(out / "notebook-05"),
                # 25 GAN steps per Table 4 row and Fig. 8 share (the notebook's default is 40, which
                # took 940 s beside two other jobs on 2 cores), to keep the main job under 30 minutes
                "ablation_iterations": 25,
                "curve_iterations": 25,
                "results_json": str(out / "generation_representation.json"),
            },
        ),
        ("06_figures.ipynb", common),  # last: it indexes every figure the others wrote
    ]


def run(out: Path, figures: Path, checkpoint: Path | None = None, train_iterations: int = 300, seed: int = 0) -> dict:
    """Execute every notebook; returns the seconds each took (also written to ``out/timings.json``)."""
    import papermill as pm

    out, figures = out.resolve(), figures.resolve()
    checkpoint = (checkpoint or SHIPPED).resolve()
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} not found; pass --checkpoint or restore checkpoints/")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    timings = {}
    start = time.perf_counter()
    for name, parameters in plan(out, figures, checkpoint, train_iterations, seed):
        print(f"== {name} (main job at {(time.perf_counter() - start) / 60:.1f} min)", flush=True)
        t0 = time.perf_counter()
        pm.execute_notebook(  # papermill's bar: one tick per cell, with elapsed time and an estimate
            NOTEBOOKS_DIR / name,
            out / "notebooks" / name,
            parameters=parameters,
            cwd=str(NOTEBOOKS_DIR),
            kernel_name="python3",
            progress_bar={"desc": name, "unit": "cell", "mininterval": 5},
        )
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"   {timings[name]:.0f} s", flush=True)
    timings["total"] = round(sum(timings.values()), 1)
    (out / "timings.json").write_text(json.dumps(timings, indent=1))
    print(f"main job done in {timings['total'] / 60:.1f} min; notebooks in {out / 'notebooks'}, figures in {figures}")
    return timings


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="runs/main", help="run folder for executed notebooks and results")
    p.add_argument("--figures", default="figures")
    p.add_argument(
        "--checkpoint", default=None, help="trained GAN for notebooks 02 and 04 (the shipped one by default)"
    )
    p.add_argument("--train-iterations", type=int, default=300, help="steps of the fresh training run in notebook 03")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    run(
        Path(args.out),
        Path(args.figures),
        Path(args.checkpoint) if args.checkpoint else None,
        args.train_iterations,
        args.seed,
    )


if __name__ == "__main__":
    main()
