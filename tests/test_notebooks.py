"""Every notebook runs headless through papermill with smoke-sized parameters, then nbval re-runs
the executed copy and checks the cells marked ``# NBVAL_CHECK_OUTPUT`` (--nbval-lax)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
import torch
from PIL import Image

from vosgan.config import get_preset
from vosgan.data.datasets import ClipDataset
from vosgan.data.synthetic import make_benchmark
from vosgan.models.summary import PAPER_TABLES
from vosgan.training.distributed import DistInfo
from vosgan.training.loop import Checkpointer
from vosgan.training.trainer import Trainer

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("notebooks")


@pytest.fixture(scope="module")
def checkpoint(workdir):
    """A tiny model trained for a few steps."""
    cfg = get_preset("tiny")
    data = ClipDataset.from_synthetic(make_benchmark(12, cfg.frames, cfg.size, seed=0), cfg.size, progress=False)
    trainer = Trainer(cfg, data, DistInfo.single(torch.device("cpu")), seed=0)
    trainer.fit(3, [Checkpointer(workdir / "tiny.pt", every=0)], progress=False)
    return workdir / "tiny.pt"


def execute(name: str, workdir: Path, **parameters) -> dict:
    """papermill, then nbval on the executed copy; returns the executed notebook as JSON."""
    out = workdir / name
    env_threads = {"OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    os.environ.update(env_threads)
    pm.execute_notebook(
        NOTEBOOKS / name,
        out,
        parameters={"figures_dir": str(workdir / "figures"), **parameters},
        cwd=str(NOTEBOOKS),
        kernel_name="python3",
        progress_bar=False,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-sanitize-with",
            str(SANITIZE),
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, **env_threads},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert " passed" in result.stdout
    return json.loads(out.read_text())


def outputs(nb: dict) -> str:
    """All text outputs of an executed notebook."""
    texts = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            texts.append("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def test_00_data(workdir):
    nb = execute("00_data.ipynb", workdir, videos=2, frames=8, size=32)
    assert "(8, 32, 32, 3) uint8 (8, 32, 32)" in outputs(nb)
    assert (workdir / "figures" / "data_synthetic.png").stat().st_size > 5000


def test_01_architecture_matches_the_paper(workdir):
    text = outputs(execute("01_architecture.ipynb", workdir, preset="paper"))
    rows = len(PAPER_TABLES["generator"]) + len(PAPER_TABLES["discriminator"])
    assert rows == 44 and text.count(" yes ") == rows and " NO " not in text  # every row of Tables 1 and 2
    assert "generator:       19.47 M parameters" in text


def test_02_latent_trajectories(workdir, checkpoint):
    text = outputs(
        execute("02_latent_trajectories.ipynb", workdir, checkpoint=str(checkpoint), steps=3, frames_shown=4)
    )
    assert "background identical across steps: True" in text
    assert "latent step, random" in text
    assert (workdir / "figures" / "sample.gif").exists()


def test_03_training_resumes(workdir):
    overrides = {"train": {"g_steps": 2}, "loss": {"mask_prior": 1.0, "mask_area": 0.1}}
    params = dict(
        preset="tiny", overrides=overrides, videos=20, iterations=3, evaluate_every=2, out=str(workdir / "run")
    )
    text = outputs(execute("03_training.ipynb", workdir, **params))
    assert "step 3 of 3" in text and "d_iou" in text
    rows = [json.loads(line) for line in (workdir / "run" / "evaluation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 3] and all(0 <= r["J"] <= 1 for r in rows)
    assert (workdir / "figures" / "training_evaluation.png").stat().st_size > 5000
    assert len((workdir / "run" / "metrics.jsonl").read_text().splitlines()) == 3  # nbval's re-run resumed, added none
    # The main job passes the shipped model's recipe this way; it reaches the run's config.
    from vosgan.config import VOSGANConfig, recipe
    from vosgan.models.checkpoint import load_checkpoint

    assert recipe(VOSGANConfig.from_dict(load_checkpoint(workdir / "run" / "checkpoint.pt")["config"])) == overrides


def test_04_segmentation(workdir, checkpoint):
    params = dict(
        checkpoint=str(checkpoint),
        videos=10,
        size=32,
        iterations=2,
        batch_size=2,
        fractions=[0.5, 1.0],
        results_json=str(workdir / "seg.json"),
    )
    text = outputs(execute("04_segmentation_evaluation.ipynb", workdir, **params))
    assert "adversarial + fine-tuning" in text and "flow magnitude baseline" in text
    assert "temporal-median baseline" in text
    summary = json.loads((workdir / "seg.json").read_text())
    assert len(summary["table"]) == 7 and len(summary["curve"]) == 4


def test_05_generation_and_representation(workdir, checkpoint):
    params = dict(
        checkpoint=str(checkpoint),
        sets=2,
        per_set=4,
        ablations=["baseline", "+alpha"],
        ablation_iterations=2,
        gan_videos=8,
        action_videos=40,
        action_seeds=1,
        action_steps=3,
        curve_pool=8,
        curve_fractions=[0.5, 1.0],
        curve_iterations=2,
        out=str(workdir / "nb06"),
        results_json=str(workdir / "nb06.json"),
    )
    text = outputs(execute("05_generation_and_representation.ipynb", workdir, **params))
    assert "2 rows scored on 2 sets each: FID, IS, FCD, MC" in text
    assert "5 actions, chance 20 %; 6 rows" in text and "2 shares, least-squares line" in text
    results = json.loads((workdir / "nb06.json").read_text())
    assert [r["row"] for r in results["table4"]] == ["baseline", "+alpha"]
    assert {r["discriminator"] for r in results["actions"]} == {
        "VOS-GAN (shipped)",
        "random init",
        "Table 4 baseline row",
    }
    assert [r["videos"] for r in results["fig8"]] == [4, 8]
    for name in ("generation_table4.png", "action_recognition.png", "unlabeled_curve.png"):
        assert Image.open(workdir / "figures" / name).size[0] > 100


def test_06_figures(workdir):
    """The index lists exactly the set's figures that exist, in the set's order, and nothing else."""
    from vosgan.experiments.figures import FIGURES

    folder = workdir / "figures-05"
    folder.mkdir(exist_ok=True)
    chosen = [list(FIGURES)[i] for i in (4, 1, 7)]  # written out of order; one of the set missing between
    for name in chosen + ["stray.png"]:
        Image.new("RGB", (4, 4)).save(folder / name)
    text = outputs(execute("06_figures.ipynb", workdir, figures_dir=str(folder)))
    index = (folder / "README.md").read_text()
    assert f"{len(chosen)} figures indexed" in text
    headings = [line for line in index.splitlines() if line.startswith("## ")]
    assert headings == [f"## {name}" for name in FIGURES if name in chosen]
    assert "stray.png" not in index


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_parameters_cell_is_documented_and_outputs_are_clean(path):
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one papermill parameters cell"
    lines = [line for line in "".join(cells[0]["source"]).splitlines() if line.strip()]
    params = pm.inspect_notebook(str(path))
    assert len(params) == len(lines), "every line of the parameters cell parses (papermill --help-notebook)"
    assert all(p["help"] and p["inferred_type_name"] != "None" for p in params.values())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), (
        "commit notebooks without outputs"
    )
