"""DAVIS-style evaluation of whole sequences and of two DAVIS-layout folders of indexed PNGs.

Two protocols, as the official ``davis2017-evaluation`` code runs them:

- ``semi-supervised`` (default): the first and last frames are never read or scored (frame 0 carries
  the given annotation); the objects are ids 1..N, N the largest id of the first ground-truth frame;
  a predicted id above N on a scored frame is an error; void pixels (255) count as background.
- ``unsupervised``: every frame is scored, void pixels are left out of J and F, and each ground-truth
  object is matched to one predicted id (at most 20) by the Hungarian algorithm on mean (J + F) / 2.

Global figures average over objects, not sequences. Folders are evaluated one sequence per process,
each PNG decoded once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from vosgan.data.io import DataError, read_mask
from vosgan.metrics.davis import VOID, frame_measures, statistics

GLOBAL_KEYS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
TASKS = ("semi-supervised", "unsupervised")
MAX_PROPOSALS = 20  # the official unsupervised mode's limit on predicted ids per sequence


def scored_frames(count: int, task: str) -> slice:
    """The frames a protocol scores: all but the first and last (semi-supervised), or all."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    return slice(1, count - 1) if task == "semi-supervised" else slice(0, count)


def _figures(j: np.ndarray, f: np.ndarray) -> dict[str, float]:
    j_m, j_o, j_d = statistics(j)
    f_m, f_o, f_d = statistics(f)
    return {"J-Mean": j_m, "J-Recall": j_o, "J-Decay": j_d, "F-Mean": f_m, "F-Recall": f_o, "F-Decay": f_d}


def evaluate_sequence(
    gt: np.ndarray, pred: np.ndarray, name: str = "sequence", binary: bool = False, task: str = "semi-supervised"
) -> dict:
    """Per-object figures of one sequence: ids (T, H, W) uint8 ground truth (255 = void) and prediction.

    ``pred`` may hold only the scored frames (T - 2 in semi-supervised mode) or all T; only the scored
    frames are checked and read. Returns ``{"<name>_<k>": {"J-Mean", ..., "F-Decay"}}``.
    """
    scored = scored_frames(len(gt), task)
    if len(gt) < 3 and task == "semi-supervised":
        raise DataError(
            f"sequence {name!r} has {len(gt)} frames; semi-supervised scoring drops the first and last, so 3 are needed"
        )
    if len(pred) == len(gt):
        pred = pred[scored]
    gt_scored = gt[scored]
    if pred.shape != gt_scored.shape:
        raise DataError(
            f"sequence {name!r}: the scored frames of ground truth {gt_scored.shape} and prediction {pred.shape} "
            "differ (frames, H, W)"
        )
    # Void (255) is background: ids 1..count never match it, so only the object count and the
    # binary merge need it removed; the unsupervised protocol also leaves it out of J and F.
    void = gt_scored == VOID if task == "unsupervised" else None
    count = int(np.where(gt[0] == VOID, 0, gt[0]).max())
    if binary:
        count = min(count, 1)
        gt_scored = ((gt_scored > 0) & (gt_scored != VOID)).astype(np.uint8)
        pred = (pred > 0).astype(np.uint8)
    if task == "semi-supervised":
        top = int(pred.max())
        if top > max(count, 1):
            frame = int(np.argmax(pred.reshape(len(pred), -1).max(axis=1) == top)) + scored.start
            raise DataError(
                f"sequence {name!r}: frame {frame} of the prediction has object id {top} but the first ground-truth "
                f"frame has {count} object(s) (ids above that are an error in the official code; pass --binary to "
                "score one foreground, or --task unsupervised to match ids to objects)"
            )
        j, f = _per_frame(gt_scored, pred, [(k, k) for k in range(1, count + 1)])
        return {f"{name}_{k + 1}": _figures(j[:, k], f[:, k]) for k in range(count)}
    return _match_unsupervised(gt_scored, pred, void, count, name)


def _per_frame(gt: np.ndarray, pred: np.ndarray, pairs, void: np.ndarray | None = None):
    """J and F (T, len(pairs)) of (ground-truth id, predicted id) pairs over frames (T, H, W)."""
    if not pairs:
        return np.zeros((len(gt), 0)), np.zeros((len(gt), 0))
    voids = void if void is not None else [None] * len(gt)
    rows = [frame_measures(g, p, pairs, v) for g, p, v in zip(gt, pred, voids)]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def _match_unsupervised(gt: np.ndarray, pred: np.ndarray, void: np.ndarray, count: int, name: str) -> dict:
    """Each of ``count`` ground-truth objects scored against the predicted id the Hungarian algorithm
    assigns it on mean (J + F) / 2 (missing ids are empty masks)."""
    proposals = int(pred.max())
    if proposals > MAX_PROPOSALS:
        raise DataError(
            f"sequence {name!r}: the prediction has id {proposals}; the unsupervised protocol allows at most "
            f"{MAX_PROPOSALS} proposals per sequence"
        )
    ids = max(proposals, count)
    pairs = [(k, p) for p in range(1, ids + 1) for k in range(1, count + 1)]
    j, f = (x.T.reshape(ids, count, len(gt)) for x in _per_frame(gt, pred, pairs, void))  # (proposals, objects, T)
    rows, cols = linear_sum_assignment(-(j.mean(axis=2) + f.mean(axis=2)) / 2)
    chosen = dict(zip(cols, rows))
    return {f"{name}_{k + 1}": _figures(j[chosen[k], k], f[chosen[k], k]) for k in range(count)}


def summarize(per_object: dict[str, dict]) -> dict:
    """Global figures: each the mean over objects; J&F-Mean is the mean of J-Mean and F-Mean."""
    if not per_object:
        raise DataError("nothing to evaluate: no objects in the first ground-truth frames")
    glob = {}
    for key in GLOBAL_KEYS[1:]:
        glob[key] = float(np.mean([v[key] for v in per_object.values()]))
    glob["J&F-Mean"] = (glob["J-Mean"] + glob["F-Mean"]) / 2
    return {"global": {k: glob[k] for k in GLOBAL_KEYS}, "per_sequence": per_object}


def evaluate_arrays(
    gt: dict[str, np.ndarray], pred: dict[str, np.ndarray], binary: bool = False, task: str = "semi-supervised"
) -> dict:
    """Evaluate in memory: dicts of sequence name -> ids (T, H, W)."""
    missing = sorted(set(gt) - set(pred))
    if missing:
        raise DataError(f"no prediction for sequences {missing}")
    per_object = {}
    for name in sorted(gt):
        per_object.update(evaluate_sequence(gt[name], pred[name], name, binary, task))
    return summarize(per_object)


def _annotation_root(root: Path) -> Path:
    """Accept a folder of ``<seq>/`` or a DAVIS root (``Annotations[/480p]/<seq>/``)."""
    if (root / "Annotations").is_dir():
        root = root / "Annotations"
        return root / "480p" if (root / "480p").is_dir() else root
    return root


def read_sequence_masks(
    folder: Path, names: list[str] | None = None, binary: bool = False
) -> tuple[list[str], np.ndarray]:
    """The masks of ``folder`` (or only the frames ``names``, without extension) as ids (N, H, W)."""
    if names is None:
        names = sorted(p.stem for p in folder.glob("*.png"))
        if not names:
            raise DataError(f"no PNG masks in {folder}")
    masks = []
    for stem in names:
        path = folder / f"{stem}.png"
        if not path.is_file():
            raise DataError(f"no mask for frame {stem!r}: expected {path} (a scored ground-truth frame)")
        masks.append(read_mask(path, binary))
        if masks[-1].shape != masks[0].shape:
            raise DataError(
                f"{path} is {masks[-1].shape[::-1]} (W, H) but {folder / names[0]}.png is {masks[0].shape[::-1]}"
            )
    return names, np.stack(masks)


def _evaluate_folder_pair(job: tuple[str, Path, Path, bool, str]) -> dict:
    """One sequence: read the ground truth the protocol needs and the prediction's scored frames."""
    name, gt_dir, pred_dir, binary, task = job
    gt_names = sorted(p.stem for p in gt_dir.glob("*.png"))
    if not gt_names:
        raise DataError(f"no PNG masks in {gt_dir}")
    if not pred_dir.is_dir():
        raise DataError(f"no predictions for sequence {name!r}: expected folder {pred_dir}")
    scored = gt_names[scored_frames(len(gt_names), task)]
    # The first ground-truth frame names the objects; semi-supervised mode never reads the last one.
    needed = gt_names[:1] + scored if task == "semi-supervised" else gt_names
    _, gt = read_sequence_masks(gt_dir, needed, binary)
    try:
        _, pred = read_sequence_masks(pred_dir, scored, binary)
    except DataError as err:
        raise DataError(f"sequence {name!r}: {err}") from None
    if pred.shape[1:] != gt.shape[1:]:
        raise DataError(
            f"sequence {name!r}: predicted masks are {pred.shape[2:0:-1]} (W, H) but the ground truth is "
            f"{gt.shape[2:0:-1]}; resize the predictions to the annotations' size"
        )
    if task == "semi-supervised":
        gt = np.concatenate([gt, gt[-1:]])  # a stand-in last frame: never scored
    single_id = not binary and int(gt.max()) > 1 and int(pred.max()) <= 1
    return evaluate_sequence(gt, pred, name, binary, task), single_id


def evaluate_folders(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    binary: bool = False,
    sequences: list[str] | None = None,
    task: str = "semi-supervised",
    workers: int | None = None,
) -> dict:
    """Evaluate every ground-truth sequence (or ``sequences``) against ``pred_dir/<seq>/<frame>.png``.

    Prediction frames that the protocol does not score are neither read nor required. ``workers``
    processes (default: one per core) take one sequence each. Without ``binary``, sequences whose
    prediction holds a single id while their ground truth holds several objects are listed under
    ``single_id_sequences``: only object 1 can match them there (``binary`` scores the foreground).
    """
    scored_frames(3, task)  # validates the task name before any work
    gt_root, pred_root = _annotation_root(Path(gt_dir)), Path(pred_dir)
    if not gt_root.is_dir():
        raise DataError(f"ground-truth folder {gt_root} does not exist")
    if not pred_root.is_dir():
        raise DataError(f"prediction folder {pred_root} does not exist")
    found = sorted(p.name for p in gt_root.iterdir() if p.is_dir())
    unknown = sorted(set(sequences or ()) - set(found))
    if unknown:
        raise DataError(f"no ground truth for sequence(s) {', '.join(unknown)} in {gt_root} (it has {len(found)})")
    names = sequences or found
    if not names:
        raise DataError(f"no sequence folders in {gt_root}")
    jobs = [(n, gt_root / n, pred_root / n, binary, task) for n in names]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers > 1:
        # workers ignore Ctrl-C: the main process ends them at once, with one message, not a traceback each
        pool = multiprocessing.Pool(workers, initializer=_ignore_interrupts)
        try:
            results = pool.map(_evaluate_folder_pair, jobs)
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.close()
            pool.join()
    else:
        results = [_evaluate_folder_pair(job) for job in jobs]
    summary = summarize({k: v for scores, _ in results for k, v in scores.items()})
    single = [name for name, (_, single_id) in zip(names, results) if single_id]
    return {**summary, "single_id_sequences": single} if single else summary


def format_table(results: dict) -> str:
    """The global figures and per-object J-Mean / F-Mean as aligned text (percent, as the papers print)."""
    g = results["global"]
    lines = ["  ".join(f"{k:>9}" for k in GLOBAL_KEYS), "  ".join(f"{100 * g[k]:9.1f}" for k in GLOBAL_KEYS), ""]
    width = max(len(n) for n in results["per_sequence"])
    lines.append(f"{'object':<{width}}  {'J-Mean':>7}  {'F-Mean':>7}")
    for name, v in results["per_sequence"].items():
        lines.append(f"{name:<{width}}  {100 * v['J-Mean']:7.1f}  {100 * v['F-Mean']:7.1f}")
    return "\n".join(lines)


def _ignore_interrupts() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def write_json(results: dict, path: str | os.PathLike) -> Path:
    """The results as JSON, written atomically (``vosgan.data.io.write_result``)."""
    from vosgan.data.io import write_result

    return write_result(path, json.dumps(results, indent=1))
