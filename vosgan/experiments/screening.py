"""One row per training run folder, for the table that compares recipes (docs/training-recipes.md).

``python -m vosgan.experiments.screening RUN [RUN ...]`` prints a Markdown table: the options that differ from
the preset, the step with the best val J and its scores (J, J on frozen clips, the baselines' J),
the flow head's error against predicting no motion, the latent effects, how the generator's objects
move at that step (net travel per frame beside the data's, the share that swell, the z_M/z_C
displacement contrast), D(x) and D(G(z)) over the last 100 steps, and the mask statistics of the
best snapshot.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vosgan.config import VOSGANConfig, get_preset, setting_changes
from vosgan.data.io import read_jsonl


def summarize_run(folder: str | Path, masks: bool = True) -> dict:
    """The row of one run folder (``config.json``, ``metrics.jsonl``, ``evaluation.jsonl``, ``best.pt``)."""
    folder = Path(folder)
    cfg = VOSGANConfig.from_dict(json.loads((folder / "config.json").read_text()))
    changes = setting_changes(get_preset(cfg.name), cfg)
    options = ", ".join(f"{k}={new}" for values in changes.values() for k, (_, new) in values.items())
    steps = read_jsonl(folder / "metrics.jsonl")
    evals = read_jsonl(folder / "evaluation.jsonl") if (folder / "evaluation.jsonl").exists() else []
    row = {"run": folder.name, "options": options or "(preset)", "steps": steps[-1]["step"] if steps else 0}
    tail = steps[-100:]
    row["D(x)"] = float(np.mean([s["real_score"] for s in tail])) if tail else float("nan")
    row["D(G(z))"] = float(np.mean([s["fake_score"] for s in tail])) if tail else float("nan")
    if evals:
        best = max(evals, key=lambda r: r["J"])
        keys = ("J", "F", "J_frozen", "flow_epe", "flow_epe_zero", "zm_mask", "zc_mask", "zc_background")
        keys += tuple(k for k in best if k.startswith("motion_"))
        row.update({"best step": best["step"], **{k: best.get(k, float("nan")) for k in keys}})
        row.update({"J_flow_baseline": best["J_flow_baseline"], "J_median_baseline": best.get("J_median_baseline")})
        row["last J"] = evals[-1]["J"]
    if masks and (folder / "best.pt").exists():
        from vosgan.metrics.masks import mask_report
        from vosgan.models.checkpoint import load_models

        _, gen, disc = load_models(folder / "best.pt")
        report = mask_report(gen, disc, count=32, seed=1)
        row.update({f"mask {k}": report[k] for k in ("area", "object_clips", "diversity", "d_iou")})
    return row


COLUMNS = (
    ("run", "{}"),
    ("options", "{}"),
    ("steps", "{}"),
    ("best step", "{}"),
    ("J", "{:.3f}"),
    ("F", "{:.3f}"),
    ("J_frozen", "{:.3f}"),
    ("last J", "{:.3f}"),
    ("J_flow_baseline", "{:.3f}"),
    ("flow_epe", "{:.3f}"),
    ("flow_epe_zero", "{:.3f}"),
    ("zm_mask", "{:.3f}"),
    ("zc_mask", "{:.3f}"),
    ("motion_travel", "{:.2f}"),
    ("motion_data_travel", "{:.2f}"),
    ("motion_straightness", "{:.2f}"),
    ("motion_swelling", "{:.2f}"),
    ("motion_data_swelling", "{:.2f}"),
    ("motion_latent_contrast", "{:.1f}"),
    ("D(x)", "{:.2f}"),
    ("D(G(z))", "{:.2f}"),
    ("mask area", "{:.2f}"),
    ("mask object_clips", "{:.2f}"),
    ("mask diversity", "{:.2f}"),
    ("mask d_iou", "{:.2f}"),
)


def markdown_table(rows: list[dict]) -> str:
    """Rows as a Markdown table (missing values as '-')."""

    def cell(row, key, fmt):
        value = row.get(key)
        return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else fmt.format(value)

    lines = ["| " + " | ".join(k for k, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r, k, f) for k, f in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--no-masks", action="store_true", help="skip the mask statistics of best.pt")
    args = p.parse_args(argv)
    print(markdown_table([summarize_run(r, masks=not args.no_masks) for r in args.runs]))


if __name__ == "__main__":
    main()
