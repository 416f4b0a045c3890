"""environment.yml and pyproject.toml must list the same packages, so they cannot drift."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch", "opencv-python-headless": "opencv"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower()


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        *project["dependencies"],
        *project["optional-dependencies"]["dev"],
        *project["optional-dependencies"]["samples"],
    ]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    pip = {_name(d) for item in env["dependencies"] if isinstance(item, dict) for d in item["pip"]}
    for spec in wanted:
        name = CONDA_NAMES.get(_name(spec), _name(spec))
        assert name in conda | pip, f"{spec} is in pyproject.toml but not in environment.yml"
    assert "-e ." in [d for item in env["dependencies"] if isinstance(item, dict) for d in item["pip"]]
    assert any(d.startswith("python=3.11") for d in env["dependencies"] if isinstance(d, str))


def test_torch_range_admits_the_cpu_build_on_disk():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    from packaging.requirements import Requirement

    torch_spec = Requirement(next(d for d in project["dependencies"] if _name(d) == "torch"))
    assert torch_spec.specifier.contains("2.13.0")  # the CPU build the Makefile installs
    make = (ROOT / "Makefile").read_text()
    assert "TORCH_SPEC ?= torch==2.13.0" in make


def test_console_script_and_ci_call_the_readme_test_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["vosgan"] == "vosgan.cli.main:main"
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make all" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
