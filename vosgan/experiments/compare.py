"""One table for every method on one dataset: VOS-GAN, the peers (CIS, FaSTGAN) and the label-free baselines.

Each method writes ``vosgan segment``-style masks into ``out/masks/<label>/``; the ground truth of the
same sequences is written once into ``out/truth/`` (DAVIS layout, whatever the input format); every
row is scored by ``vosgan.metrics.evaluate.evaluate_folders`` with one protocol: binary foreground
(all objects merged, DAVIS 2016 style), frames 1 .. N-2 (the semi-supervised protocol's frames, so a
method given frame 0's mask gains nothing on the scored frames). No method has its own metric code.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vosgan.config import SegmentConfig
from vosgan.data.flow import FlowCache
from vosgan.data.io import DataError, write_indexed_png, write_result
from vosgan.methods import Timing, load_segmenter, segment_sequences
from vosgan.metrics.evaluate import evaluate_folders
from vosgan.segmentation.baselines import BASELINE_NAMES, ThresholdBaseline
from vosgan.segmentation.evaluation import EVAL_BENCHMARK
from vosgan.segmentation.refine import refine as refine_maps
from vosgan.segmentation.video import Segmentation, write_segmentation

TASK = "semi-supervised"


@dataclass
class Row:
    """One method's line of the table (J and F in [0, 1]; seconds of training, None when not recorded)."""

    label: str
    method: str
    setting: str
    labels: str
    J: dict[str, float]  # Mean, Recall, Decay
    F: dict[str, float]
    fps: float
    train_seconds: float | None
    parameters: int | None
    failed: int = 0
    refine: str = "none"  # how the method's maps reached the frames' resolution (vosgan.segmentation.refine)


@dataclass
class Comparison:
    rows: list[Row]
    data: str
    split: str
    sequences: int
    difficulty: float = 0.0  # the embedded benchmark's camera motion and noise (0: static camera)

    @property
    def failed(self) -> int:
        """Sequences that some method could not segment (they are left out of its scores)."""
        return sum(r.failed for r in self.rows)

    def markdown(self) -> str:
        head = (
            "| method | setting | labels used | refinement | J M | J O | J D | F M | F O | F D | frames/s | training |"
        )
        lines = [head + " parameters |", "|" + "---|" * 13]
        for r in self.rows:
            train = f"{r.train_seconds / 60:.1f} min" if r.train_seconds else "n/a"
            params = f"{r.parameters / 1e6:.2f} M" if r.parameters else "0"
            j, f = (f"{100 * x['Mean']:.1f} | {100 * x['Recall']:.1f} | {100 * x['Decay']:.1f}" for x in (r.J, r.F))
            label = f"{r.label} ({r.failed} of {self.sequences} sequences failed)" if r.failed else r.label
            lines.append(
                f"| {label} | {r.setting} | {r.labels} | {r.refine} | {j} | {f} | {r.fps:.0f} | {train} | {params} |"
            )
        return "\n".join(lines)

    def to_json(self, path) -> Path:
        return write_result(path, json.dumps({"data": self.data, "split": self.split, "sequences": self.sequences,
                                              "difficulty": self.difficulty, "rows": [asdict(r) for r in self.rows]},
                                             indent=1))  # fmt: skip


def dataset_sequences(data: str, split: str, out: Path, fmt: str = "davis", difficulty: float = 0.0):
    """(sequences of ``split``, sequences of the train split or None): ``data='synthetic'`` writes the
    embedded evaluation benchmark (``EVAL_BENCHMARK``, with camera motion at ``difficulty`` > 0) once
    under ``out/benchmark`` and reads it back as DAVIS; any other value is a dataset folder in ``fmt``
    (davis or segtrack)."""
    from vosgan.data.readers import read_davis, read_segtrack

    if data == "synthetic":
        root = out / "benchmark"
        if not (root / "meta.json").is_file():
            import shutil

            from vosgan.data.synthetic import write_benchmark

            shutil.rmtree(root, ignore_errors=True)  # the kit's own folder, left part-written by a killed run
            b = EVAL_BENCHMARK
            write_benchmark(root, b["count"], b["frames"], b["size"], b["seed"], difficulty, progress=False)
        data = root
    if fmt == "segtrack":
        return read_segtrack(data), None
    try:
        train = read_davis(data, "train")
    except DataError:
        train = None  # no ImageSets/train.txt: the baselines cannot pick their thresholds
    return read_davis(data, split), train


def check_compare_output(out: Path, data: str, split: str, fmt: str, difficulty: float = 0.0) -> None:
    """Refuse an ``out`` inside the dataset (its annotations would be written over), and one that holds
    the kept ground truth of another dataset or split (scores would be against the wrong truth)."""
    if data != "synthetic":
        root = Path(data).resolve()
        if out.resolve() == root or root in out.resolve().parents:
            raise FileExistsError(f"--out {out} is inside the dataset {data}: choose a folder outside it")
    source = {"data": str(Path(data).resolve()) if data != "synthetic" else data, "split": split, "format": fmt}
    if difficulty:
        source["difficulty"] = difficulty
    record = out / "truth" / "source.json"
    if record.is_file() and json.loads(record.read_text()) != source:
        raise FileExistsError(
            f"--out {out} holds the comparison of {json.loads(record.read_text())}, not of {source}: its kept ground "
            "truth would be scored against; choose another --out"
        )
    if not record.is_file() and (out / "truth").is_dir() and any((out / "truth").iterdir()):
        raise FileExistsError(f"--out {out} holds ground truth of an unknown dataset: choose another --out")
    record.parent.mkdir(parents=True, exist_ok=True)
    write_result(record, json.dumps(source))


def write_truth(sequences, out: Path) -> list[str]:
    """Each annotated sequence's ids as ``out/<name>/<frame>.png``; returns their names."""
    names = []
    for seq in sequences:
        if seq.read_masks is None:
            continue
        folder = out / seq.name
        if not folder.is_dir():
            for t, ids in enumerate(seq.read_masks()):
                write_indexed_png(folder / f"{t:05d}.png", ids)
        names.append(seq.name)
    if not names:
        raise DataError("none of the sequences has ground-truth masks: nothing to compare against")
    return names


def score(truth: Path, masks: Path, names: list[str]) -> tuple[dict, dict]:
    g = evaluate_folders(truth, masks, binary=True, sequences=names, task=TASK, workers=1)["global"]
    return {k: g[f"J-{k}"] for k in ("Mean", "Recall", "Decay")}, {k: g[f"F-{k}"] for k in ("Mean", "Recall", "Decay")}


def baseline_row(kind: str, train, sequences, out: Path, truth: Path, names: list[str], refine: str = "none") -> Row:
    """A threshold baseline: its threshold fitted on the train split's masks, then timed and scored;
    its binary masks refined (``vosgan.segmentation.refine``) when ``refine`` is not 'none'."""
    if not train:
        raise DataError("the baselines choose their threshold on a train split; this dataset has none")
    begin = time.perf_counter()
    baseline = ThresholdBaseline(kind).fit([(s.read_frames(), s.read_masks()) for s in train if s.read_masks])
    fit_seconds = time.perf_counter() - begin
    timing, folder, settings = Timing(), out / "masks" / kind, SegmentConfig(refine=refine)
    for seq in sequences:
        frames = seq.read_frames()
        begin = time.perf_counter()
        probability = refine_maps(baseline.predict(frames).astype(np.float32), frames, settings)
        timing.seconds += time.perf_counter() - begin
        timing.frames += len(frames)
        write_segmentation(folder, seq.name, Segmentation(probability, None))
    j, f = score(truth, folder, names)
    labels = "train masks (threshold only)"
    return Row(BASELINE_NAMES[kind], kind, "unsupervised", labels, j, f, timing.fps, fit_seconds, None, refine=refine)


def compare(
    checkpoints: dict[str, str],
    out,
    data: str = "synthetic",
    split: str = "test",
    fmt: str = "davis",
    baselines: tuple[str, ...] = ("flow", "median"),
    device: str = "cpu",
    progress: bool = True,
    refine: str | None = None,
    difficulty: float = 0.0,
) -> Comparison:
    """Run every checkpoint (``{label: path}``, any method) and each baseline on ``split`` of ``data``
    (the embedded benchmark with camera motion when ``difficulty`` > 0), each method's maps refined as
    its checkpoint says (baselines: not at all) or all by ``refine`` ('none', 'guided', 'crf').

    ``out`` may not lie inside the dataset, and holds one dataset's comparison: the ground truth it
    keeps is that of the dataset and split it was first written for (``out/truth/source.json``)."""
    out = Path(out)
    if not 0 <= difficulty <= 1 or (difficulty and data != "synthetic"):
        raise ValueError(
            f"--difficulty is the embedded benchmark's camera motion, in [0, 1]; got {difficulty} for {data}"
        )
    check_compare_output(out, data, split, fmt, difficulty)
    sequences, train = dataset_sequences(data, split, out, fmt, difficulty)
    truth = out / "truth"
    names = write_truth(sequences, truth)
    annotated = [s for s in sequences if s.name in names]
    rows = []
    for label, path in checkpoints.items():
        segmenter = load_segmenter(path, device, FlowCache(out / "flow"))
        folder = out / "masks" / re.sub(r"[^\w.+-]+", "_", label)  # a label may hold spaces or slashes
        report, timing = segment_sequences(segmenter, annotated, folder, progress=progress, refine=refine)
        if not report.written:
            raise DataError(f"{label}: no sequence could be segmented ({next(iter(report.failed.values()))})")
        j, f = score(truth, folder, report.written)
        seconds = segmenter.train.get("seconds")
        if seconds is not None:  # a run started from another checkpoint (--init): its training counts too
            seconds += segmenter.train.get("init", {}).get("seconds", 0.0)
        rows.append(
            Row(
                label,
                segmenter.method,
                segmenter.setting,
                segmenter.labels,
                j,
                f,
                timing.fps,
                seconds,
                segmenter.parameters,
                len(report.failed),
                refine or getattr(segmenter, "segment", SegmentConfig()).refine,
            )  # fmt: skip
        )
    rows += [baseline_row(kind, train, annotated, out, truth, names, refine or "none") for kind in baselines]
    result = Comparison(rows, str(data), split, len(names), difficulty)
    result.to_json(out / "comparison.json")
    write_result(out / "comparison.md", result.markdown() + "\n")
    return result
