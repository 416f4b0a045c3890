"""DAVIS-style evaluation of whole sequences and of two DAVIS-layout folders of indexed PNGs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from vosgan.data.io import DataError, read_mask
from vosgan.metrics.davis import VOID, boundary_f, jaccard, object_masks, statistics

GLOBAL_KEYS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


def evaluate_sequence(gt: np.ndarray, pred: np.ndarray, name: str = "sequence", binary: bool = False) -> dict:
    """Per-object figures of one sequence: ids (T, H, W) uint8 ground truth and prediction.

    Returns ``{"<name>_<k>": {"J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"}}``.
    """
    if gt.shape != pred.shape:
        raise DataError(f"sequence {name!r}: ground truth {gt.shape} and prediction {pred.shape} differ (frames, H, W)")
    if len(gt) < 3:
        raise DataError(
            f"sequence {name!r} has {len(gt)} frames; DAVIS scoring drops the first and last, so 3 are needed"
        )
    gt = np.where(gt == VOID, 0, gt)
    if binary:
        gt, pred = (gt > 0).astype(np.uint8), (pred > 0).astype(np.uint8)
    count = int(gt[0].max())
    if int(pred.max()) > max(count, 1):
        raise DataError(
            f"sequence {name!r}: prediction has object id {int(pred.max())} but the ground truth has {count}"
        )
    gt_obj, pred_obj = object_masks(gt[1:-1], count), object_masks(pred[1:-1], count)
    out = {}
    for k in range(count):
        j_m, j_o, j_d = statistics(jaccard(gt_obj[k], pred_obj[k]))
        f_m, f_o, f_d = statistics(boundary_f(gt_obj[k], pred_obj[k]))
        out[f"{name}_{k + 1}"] = {
            "J-Mean": j_m,
            "J-Recall": j_o,
            "J-Decay": j_d,
            "F-Mean": f_m,
            "F-Recall": f_o,
            "F-Decay": f_d,
        }
    return out


def summarize(per_object: dict[str, dict]) -> dict:
    """Global figures: each the mean over objects; J&F-Mean is the mean of J-Mean and F-Mean."""
    if not per_object:
        raise DataError("nothing to evaluate: no objects in the first ground-truth frames")
    glob = {}
    for key in GLOBAL_KEYS[1:]:
        glob[key] = float(np.mean([v[key] for v in per_object.values()]))
    glob["J&F-Mean"] = (glob["J-Mean"] + glob["F-Mean"]) / 2
    return {"global": {k: glob[k] for k in GLOBAL_KEYS}, "per_sequence": per_object}


def evaluate_arrays(gt: dict[str, np.ndarray], pred: dict[str, np.ndarray], binary: bool = False) -> dict:
    """Evaluate in memory: dicts of sequence name -> ids (T, H, W)."""
    missing = sorted(set(gt) - set(pred))
    if missing:
        raise DataError(f"no prediction for sequences {missing}")
    per_object = {}
    for name in sorted(gt):
        per_object.update(evaluate_sequence(gt[name], pred[name], name, binary))
    return summarize(per_object)


def _annotation_root(root: Path) -> Path:
    """Accept a folder of ``<seq>/`` or a DAVIS root (``Annotations[/480p]/<seq>/``)."""
    if (root / "Annotations").is_dir():
        root = root / "Annotations"
        return root / "480p" if (root / "480p").is_dir() else root
    return root


def read_sequence_masks(folder: Path) -> tuple[list[str], np.ndarray]:
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise DataError(f"no PNG masks in {folder}")
    masks = [read_mask(p) for p in paths]
    if len({m.shape for m in masks}) != 1:
        raise DataError(f"masks in {folder} differ in size")
    return [p.stem for p in paths], np.stack(masks)


def evaluate_folders(
    gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, binary: bool = False, sequences: list[str] | None = None
) -> dict:
    """Evaluate every ground-truth sequence (or ``sequences``) against ``pred_dir/<seq>/<frame>.png``."""
    gt_root, pred_root = _annotation_root(Path(gt_dir)), Path(pred_dir)
    if not gt_root.is_dir():
        raise DataError(f"ground-truth folder {gt_root} does not exist")
    names = sequences or sorted(p.name for p in gt_root.iterdir() if p.is_dir())
    gt, pred = {}, {}
    for name in names:
        gt_frames, gt[name] = read_sequence_masks(gt_root / name)
        if not (pred_root / name).is_dir():
            raise DataError(f"no predictions for sequence {name!r}: expected folder {pred_root / name}")
        pred_frames, pred[name] = read_sequence_masks(pred_root / name)
        if gt_frames != pred_frames:
            raise DataError(
                f"sequence {name!r}: {len(pred_frames)} predicted frames do not match "
                f"{len(gt_frames)} annotated frames by name (first: {pred_frames[:1]} vs {gt_frames[:1]})"
            )
    return evaluate_arrays(gt, pred, binary)


def format_table(results: dict) -> str:
    """The global figures and per-object J-Mean / F-Mean as aligned text (percent, as the papers print)."""
    g = results["global"]
    lines = ["  ".join(f"{k:>9}" for k in GLOBAL_KEYS), "  ".join(f"{100 * g[k]:9.1f}" for k in GLOBAL_KEYS), ""]
    width = max(len(n) for n in results["per_sequence"])
    lines.append(f"{'object':<{width}}  {'J-Mean':>7}  {'F-Mean':>7}")
    for name, v in results["per_sequence"].items():
        lines.append(f"{name:<{width}}  {100 * v['J-Mean']:7.1f}  {100 * v['F-Mean']:7.1f}")
    return "\n".join(lines)


def write_json(results: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    return path
