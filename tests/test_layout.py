"""The package's shape: every name users import works, imports run one way, the command line documents itself."""

import argparse
import ast
import importlib
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vosgan
from vosgan.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
# The package's rooms, lowest first: a module imports only from its own room or the rooms before it.
ROOMS = [
    "config", "paths", "device", "data", "models", "viz", "metrics", "exploration", "segmentation", "training",
    "peers", "methods", "experiments", "cli", "__main__",
]  # fmt: skip


def user_imports() -> set[str]:
    """Every ``from vosgan... import ...`` line of the notebooks, the README, docs/ and benchmarks/."""
    texts = [json.loads(p.read_text()) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    sources = ["".join(c["source"]) for nb in texts for c in nb["cells"] if c["cell_type"] == "code"]
    sources += [p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]]
    sources += [p.read_text() for p in sorted((ROOT / "benchmarks").glob("*.py"))]
    pattern = re.compile(r"^\s*(from vosgan[\w.]* import (?:\([^)]*\)|[\w, ]+))", re.M)
    return {" ".join(m.group(1).split()) for text in sources for m in pattern.finditer(text)}


def test_the_facade_and_every_import_users_write_resolve():
    for name in vosgan.__all__:
        assert getattr(vosgan, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'segment_everything'"):
        vosgan.segment_everything  # noqa: B018
    lines = user_imports()
    assert len(lines) > 30, "the scan found too few imports: the pattern is broken"
    for line in sorted(lines):
        exec(line, {})  # an ImportError names the line's module or name


def test_python_m_vosgan_is_the_command_line():
    done = subprocess.run([sys.executable, "-m", "vosgan", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "train-peer" in done.stdout and "compare" in done.stdout


def module_imports() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports (inside functions too)."""
    package = ROOT / "vosgan"
    modules = {m.name for m in pkgutil.walk_packages([str(package)], "vosgan.")} | {"vosgan"}
    edges = {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vosgan"):
                found |= {
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                }
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("vosgan.")}
        edges[name] = found - {name}
    return edges


def room(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports from a room to a later one."""
    return sorted(
        f"{a} -> {b}" for a, targets in edges.items() for b in targets if ROOMS.index(room(b)) > ROOMS.index(room(a))
    )


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import cycle between files (depth-first search), or [] when there is none."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return []

    for module in sorted(edges):
        if module not in state and (found := visit(module, [module])):
            return found
    return []


def test_imports_run_one_way_between_rooms_and_between_files():
    edges = {a: targets for a, targets in module_imports().items() if a != "vosgan"}  # the lazy facade
    assert "vosgan.models.checkpoint" in edges["vosgan.training.trainer"]  # the graph sees real imports
    assert upward(edges) == []
    assert cycle(edges) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    edges = {"vosgan.models.checkpoint": {"vosgan.cli.main"}, "vosgan.cli.main": {"vosgan.models.checkpoint"}}
    assert upward(edges) == ["vosgan.models.checkpoint -> vosgan.cli.main"]
    assert cycle(edges) == ["vosgan.cli.main", "vosgan.models.checkpoint", "vosgan.cli.main"]


def commands(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield f"{prefix}{name}", child
                yield from commands(child, f"{prefix}{name} ")


def test_every_subcommand_is_listed_and_every_option_says_what_it_does_and_its_default():
    parser = build_parser()
    top = parser.format_help()
    found = list(commands(parser))
    assert len(found) >= 14
    for name, child in found:
        assert name.split()[0] in top
        text = child.format_help()
        for action in child._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"vosgan {name} {action.option_strings}: no help"
            unset = action.default is None or action.default is False
            if not (action.required or unset):
                flat, shown = "".join(text.split()), "".join(f"default: {action.default}".split())
                assert shown in flat or "default" in action.help, (name, action.dest)


def test_every_module_and_name_the_docs_mention_exists():
    """``vosgan.a.b.name`` in the README, docs/ and the model cards: a module, or a name in one."""
    texts = [
        p.read_text() for p in [ROOT / "README.md", ROOT / "checkpoints" / "README.md", *(ROOT / "docs").glob("*.md")]
    ]
    mentioned = {m for text in texts for m in re.findall(r"\bvosgan(?:\.[A-Za-z_][A-Za-z0-9_]*)+", text)}
    assert len(mentioned) > 15
    missing = []
    for dotted in sorted(mentioned):
        parts, obj = dotted.split("."), None
        for depth in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:depth]))
                break
            except ImportError:
                continue
        for attr in parts[depth:]:
            obj = getattr(obj, attr, None)
        if obj is None:
            missing.append(dotted)
    assert not missing, f"named in the docs but not in the package: {missing}"
