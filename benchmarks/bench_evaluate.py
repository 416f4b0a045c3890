"""DAVIS evaluation at DAVIS scale: seconds for the kit, vos-benchmark and the official code, same data.

Writes a seeded DAVIS-2017-sized fixture (10 sequences x 60 frames at 480x854, 1-3 moving objects,
predictions = the ground truth shifted, eroded and with stray blobs), then runs, one after the other:
``vosgan evaluate`` (as the library call), ``vos_benchmark`` when installed (pip package), and the
official ``davis2017-evaluation`` code when ``--official PATH`` names a local checkout of it. Prints
seconds and the global J / F of each, and checks that every implementation's per-object means agree.

    python benchmarks/bench_evaluate.py [--official ~/src/davis2017-evaluation] [--task semi-supervised]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from _common import machine

from vosgan.data.io import write_indexed_png
from vosgan.metrics.evaluate import evaluate_folders


def write_fixture(root: Path, sequences: int = 10, frames: int = 60, size=(480, 854), seed: int = 0) -> None:
    """DAVIS layout under ``root/DAVIS`` (JPEGImages, Annotations[_unsupervised], ImageSets/2017/val.txt)
    and predictions under ``root/pred``; everything fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    h, w = size
    names = [f"seq{i:02d}" for i in range(sequences)]
    tiny_jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    for name in names:
        objects = int(rng.integers(1, 4))
        start = rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h], (objects, 2))
        velocity = rng.uniform(-4, 4, (objects, 2))
        axes = rng.uniform(30, 110, (objects, 2))
        for t in range(frames):
            gt = np.zeros((h, w), np.uint8)
            pred = np.zeros((h, w), np.uint8)
            for k in range(objects):
                cx, cy = start[k] + t * velocity[k]
                ax = tuple(int(a) for a in axes[k])
                cv2.ellipse(gt, (int(cx), int(cy)), ax, 15.0 * k, 0, 360, k + 1, -1)
                # the prediction: shifted by a few pixels, a little smaller, sometimes missing
                if rng.random() < 0.95:
                    shift = rng.integers(-6, 7, 2)
                    small = tuple(max(1, a - int(rng.integers(0, 8))) for a in ax)
                    cv2.ellipse(pred, (int(cx + shift[0]), int(cy + shift[1])), small, 15.0 * k, 0, 360, k + 1, -1)
            if rng.random() < 0.3:  # a stray blob labelled as one of the objects
                cv2.circle(
                    pred, tuple(int(v) for v in rng.uniform([0, 0], [w, h])), 12, int(rng.integers(1, objects + 1)), -1
                )
            if t == 0:
                pred[:20, :20] = objects + 1  # a spurious id on the annotated frame: never read in semi mode
            for folder in ("Annotations", "Annotations_unsupervised"):
                write_indexed_png(root / "DAVIS" / folder / "480p" / name / f"{t:05d}.png", gt)
            write_indexed_png(root / "pred" / name / f"{t:05d}.png", pred)
            image = root / "DAVIS" / "JPEGImages" / "480p" / name / f"{t:05d}.jpg"
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_bytes(tiny_jpeg)
    (root / "DAVIS" / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    (root / "DAVIS" / "ImageSets" / "2017" / "val.txt").write_text("".join(n + "\n" for n in names))


def run_kit(root: Path, task: str) -> dict[str, tuple[float, float]]:
    res = evaluate_folders(root / "DAVIS", root / "pred", task=task)
    return {k: (v["J-Mean"], v["F-Mean"]) for k, v in res["per_sequence"].items()}


def run_vos_benchmark(root: Path, task: str) -> dict[str, tuple[float, float]]:
    from vos_benchmark.benchmark import benchmark

    with contextlib.redirect_stdout(io.StringIO()):
        _, _, _, objects = benchmark(
            [str(root / "DAVIS" / "Annotations" / "480p")],
            [str(root / "pred")],
            skip_first_and_last=task == "semi-supervised",
            verbose=False,
        )
    # vos-benchmark reports percentages per object id
    return {f"{seq}_{k}": (j[k] / 100, f[k] / 100) for seq, (j, f) in objects[0].items() for k in j}


def run_official(root: Path, task: str, checkout: Path) -> dict[str, tuple[float, float]]:
    sys.path.insert(0, str(checkout))
    from davis2017.evaluation import DAVISEvaluation

    with contextlib.redirect_stdout(io.StringIO()):
        res = DAVISEvaluation(str(root / "DAVIS"), task=task, gt_set="val").evaluate(str(root / "pred"))
    j, f = res["J"], res["F"]
    return {name: (jm, fm) for name, jm, fm in zip(j["M_per_object"], j["M"], f["M"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--official", type=Path, default=None, help="local checkout of davis2017-evaluation")
    p.add_argument("--task", default="semi-supervised", choices=("semi-supervised", "unsupervised"))
    p.add_argument("--sequences", type=int, default=10)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_fixture(root, args.sequences, args.frames, seed=args.seed)
        took = time.perf_counter() - t0
        print(f"fixture: {args.sequences} sequences x {args.frames} frames at 854x480 ({took:.1f} s to write)")
        runners = {"vosgan evaluate": lambda: run_kit(root, args.task)}
        try:
            import vos_benchmark  # noqa: F401

            if args.task == "semi-supervised":  # its unsupervised mode does not match ids to objects
                runners["vos-benchmark 0.1.0"] = lambda: run_vos_benchmark(root, args.task)
        except ImportError:
            print("vos-benchmark not installed (pip install vos-benchmark): skipped")
        if args.official:
            runners["official davis2017-evaluation"] = lambda: run_official(root, args.task, args.official)
        results, seconds = {}, {}
        for name, fn in runners.items():
            t0 = time.perf_counter()
            results[name] = fn()
            seconds[name] = time.perf_counter() - t0
        reference = results["vosgan evaluate"]
        for name, res in results.items():
            j = np.mean([v[0] for v in res.values()])
            f = np.mean([v[1] for v in res.values()])
            same = set(res) == set(reference) and all(np.allclose(res[k], reference[k], atol=1e-9) for k in reference)
            speed = f"{seconds[name] / seconds['vosgan evaluate']:5.1f}x the kit's time"
            scores = f"J {100 * j:.3f}  F {100 * f:.3f}  per-object identical: {same}"
            print(f"{name:<32} {seconds[name]:7.2f} s  ({speed})  {scores}")


if __name__ == "__main__":
    main()
