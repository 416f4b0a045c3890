"""Segment any video with the discriminator's motion stream (Sect. 4.1.2).

A video of any length and resolution is resized to the preset's frame size, cut into shots of
the preset's length (the last one padded, then trimmed back), passed through the shared encoder
and the motion stream, and the maps are rescaled bilinearly to the original size, as the paper
evaluates. Writes DAVIS-layout masks; optionally the soft maps and the predicted flow.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch
from einops import rearrange
from tqdm.auto import tqdm

from vosgan.config import SegmentConfig, VOSGANConfig
from vosgan.data.clips import cut_shots, resize_frames, to_tensor, upsample_maps
from vosgan.data.io import (
    DataError,
    atomic_write,
    check_no_links,
    ensure_writable_folder,
    plain_name,
    write_indexed_png,
)
from vosgan.data.readers import Sequence, read_davis, read_folder
from vosgan.device import autocast
from vosgan.models import Discriminator
from vosgan.segmentation.refine import Refiner
from vosgan.segmentation.refine import refine as refine_maps


@dataclass
class Segmentation:
    """Per-frame outputs at the video's original size."""

    probabilities: np.ndarray  # (N, H, W) float32 in [0, 1]
    flow: np.ndarray | None  # (N, H, W, 2) float32 pixels at the original scale, when asked for

    def masks(self, threshold: float = 0.5) -> np.ndarray:
        """Object ids (N, H, W) uint8: 1 where the foreground probability exceeds ``threshold``."""
        return (self.probabilities > threshold).astype(np.uint8)


def working_size(height: int, width: int, cfg: VOSGANConfig, size: int | None = None) -> tuple[int, int]:
    """The (h, w) a video of (height, width) is segmented at: ``size`` (None or 0: the model's
    ``cfg.segment.working_size``) pixels high with the video's aspect ratio, both multiples of 8 (the
    encoder halves each side three times and the motion stream doubles it back); the preset's square
    when neither is set."""
    size = size or cfg.segment.working_size
    if not size:
        return cfg.size, cfg.size
    if size % 8:
        raise ValueError(f"the working size must be a multiple of 8, got {size}")
    return size, max(8, round(size * width / height / 8) * 8)


def prepare_shots(frames: np.ndarray, cfg: VOSGANConfig, size: int | None = None) -> torch.Tensor:
    """RGB uint8 frames (N, H, W, 3) -> shots (S, 3, T, h, w) in [-1, 1] at the working size."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected RGB frames (N, H, W, 3), got shape {frames.shape}")
    h, w = working_size(*frames.shape[1:3], cfg, size)
    return shots_of(resize_frames(frames, h, width=w), cfg)


def shots_of(small: np.ndarray, cfg: VOSGANConfig) -> torch.Tensor:
    """Frames at the working size (N, h, w, 3) -> shots (S, 3, T, h, w) in [-1, 1], the last one padded."""
    return torch.stack([to_tensor(s) for s in cut_shots(small, cfg.frames)[0]])


@torch.no_grad()
def dense_maps(
    discriminator: Discriminator, shots: torch.Tensor, with_flow: bool, precision: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The motion stream on shots (S, 3, T, h, w): foreground probabilities (S, 1, T, h, w) and, when
    asked for, flow in pixels per frame at the training size (S, 2, T, h, w), both float32 on the CPU;
    ``precision`` as ``vosgan.device.autocast`` takes it."""
    device = next(discriminator.parameters()).device
    discriminator.eval()
    with autocast(device, precision):
        out = discriminator.dense(shots.to(device)).cpu()
    return out.probability, out.flow_pixels if with_flow else None


def refinement(cfg: VOSGANConfig, refine: str | None = None) -> SegmentConfig:
    """The segmentation settings of a model (``cfg.segment``), with another refinement method when
    ``refine`` names one (its radius and regulariser stay the model's)."""
    return cfg.segment if refine is None else replace(cfg.segment, refine=refine)


def timeline(shots_maps: torch.Tensor, n: int) -> torch.Tensor:
    """Shots' maps (S, C, T, h, w) -> one timeline of the first ``n`` frames (n, C, h, w)."""
    return rearrange(shots_maps, "s c t h w -> (s t) c h w")[:n]


def flow_at(flow: torch.Tensor, n: int, height: int, width: int) -> np.ndarray:
    """Shots' flow (S, 2, T, h, w) in pixels at the working size -> (n, height, width, 2) float32 in
    pixels at (height, width) (a convolutional network measures displacements in the pixels it sees)."""
    small = timeline(flow, n)
    pixels = upsample_maps(rearrange(small, "t c h w -> c t h w"), height, width)
    scale = rearrange(torch.tensor([width / small.shape[-1], height / small.shape[-2]]), "c -> c 1 1 1")
    return rearrange(pixels * scale, "c t h w -> t h w c").numpy().astype(np.float32)


def working_maps(
    discriminator: Discriminator,
    cfg: VOSGANConfig,
    frames: np.ndarray,
    batch_size: int = 8,
    with_flow: bool = False,
    size: int | None = None,
    precision: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """RGB uint8 frames (N, H, W, 3) -> the motion stream's foreground probability (N, h, w) at the
    working ``size`` (see ``working_size``) and, when asked for, its shots' flow (S, 2, T, h, w)."""
    shots = prepare_shots(frames, cfg, size)
    maps = [
        dense_maps(discriminator, shots[i : i + batch_size], with_flow, precision)
        for i in range(0, len(shots), batch_size)
    ]
    seg = timeline(torch.cat([m[0] for m in maps]), len(frames))[:, 0]
    return seg, torch.cat([m[1] for m in maps]) if with_flow else None


def segment_frames(
    discriminator: Discriminator,
    cfg: VOSGANConfig,
    frames: np.ndarray,
    batch_size: int = 8,
    with_flow: bool = False,
    size: int | None = None,
    precision: str = "auto",
    refine: str | None = None,
) -> Segmentation:
    """Segment RGB uint8 frames (N, H, W, 3) of one video at the working ``size`` (see ``working_size``),
    brought to the frames' size by the model's refinement (``cfg.segment.refine``) or ``refine``."""
    seg, flow = working_maps(discriminator, cfg, frames, batch_size, with_flow, size, precision)
    probabilities = refine_maps(seg.numpy(), frames, refinement(cfg, refine))
    return Segmentation(probabilities, flow_at(flow, *frames.shape[:3]) if with_flow else None)


def input_sequences(path: str | os.PathLike) -> list[Sequence]:
    """A video file, a folder of frames, a folder of videos, or a DAVIS root (``JPEGImages/``)."""
    path = Path(path)
    if (path / "JPEGImages").is_dir():
        return read_davis(path)
    return read_folder(path)


def write_segmentation(out: Path, name: str, result: Segmentation, threshold: float = 0.5, soft: bool = False) -> None:
    """``out/<name>/00000.png`` masks (id 1 = foreground) and, with ``soft``, the probability maps
    (``write_arrays``); every file written atomically, never through a symbolic link."""
    for t, mask in enumerate(result.masks(threshold)):
        write_indexed_png(out / name / f"{t:05d}.png", mask)
    write_arrays(out, name, result.probabilities if soft else None, result.flow)


def write_arrays(out: Path, name: str, probabilities: np.ndarray | None, flow: np.ndarray | None) -> None:
    """Soft maps as ``out/_soft/<name>.npy`` (float16, (N, H, W)) and flow as ``out/_flow/<name>.npy``
    (float16, (N, H, W, 2) pixels), those given."""
    for folder, array in {"_soft": probabilities, "_flow": flow}.items():
        if array is not None:
            path = out / folder / f"{name}.npy"
            check_no_links(out, path)
            atomic_write(path, lambda f, a=array: np.save(f, a.astype(np.float16)))


COMPLETE = ".vosgan-complete"  # written into a sequence's mask folder after its last mask


def mark_complete(out: Path, name: str) -> None:
    """Record that every mask of ``out/<name>/`` was written (a killed run leaves partial folders unmarked)."""
    (out / name / COMPLETE).write_text("")


def prepare_sequence_output(out: Path, name: str, overwrite: bool) -> None:
    """Before a sequence's masks are written to ``out/<name>/``: refuse a name that is not one plain
    path component and a symbolic link on the way; with ``overwrite``, remove the masks an earlier run
    left there (also those beyond the new video's length)."""
    if not plain_name(name):
        raise DataError(f"{name!r} is not a plain file name and cannot be a sequence folder: rename the input")
    check_no_links(out, out / name)
    for stale in (out / name).glob("*.png") if overwrite else ():
        stale.unlink()
    (out / name / COMPLETE).unlink(missing_ok=True)


def split_by_name(sequences: list[Sequence]) -> tuple[list[Sequence], dict[str, str]]:
    """(sequences whose names can be output folders, {name: reason} for those that cannot: '.', '..')."""
    bad = {
        s.name: f"{s.name!r} is not a plain file name and cannot be a sequence folder: rename the input"
        for s in sequences
        if not plain_name(s.name)
    }
    return [s for s in sequences if s.name not in bad], bad


@dataclass
class SegmentReport:
    """What ``segment_path`` did: sequences written, and those that failed with the reason."""

    written: list[str]
    failed: dict[str, str]


def check_output(out: Path, input_path: Path, names: list[str], overwrite: bool, arrays: tuple[str, ...] = ()) -> None:
    """Refuse, before any work, an output that would destroy data: the input's annotations, the
    input folder itself, or earlier results (masks, and the ``arrays`` folders' files, e.g. '_soft')
    unless ``overwrite``; and an output that cannot be written."""
    out_r = out.resolve()
    source = input_path.resolve()
    protected = [source] if source.is_dir() else []
    if source.is_dir():
        protected += [p.resolve() for p in source.glob("Annotations*") if p.is_dir()]
    for p in protected:
        if out_r == p or p in out_r.parents:
            raise FileExistsError(
                f"--out {out} is inside the input {p}: masks would be written over the input's own frames or "
                "annotations; choose a folder outside it"
            )
    taken = [n for n in names if (out / n).is_dir() and any((out / n).glob("*.png"))]
    partial = [n for n in taken if not (out / n / COMPLETE).exists()]
    taken += [f"{a}/{n}.npy" for a in arrays for n in names if (out / a / f"{n}.npy").exists()]
    if taken and not overwrite:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        half = (
            f"; {len(partial)} of them partly written by a run that stopped: {', '.join(partial[:5])}"
            if partial
            else ""
        )
        raise FileExistsError(
            f"{out} already holds masks for {len(taken)} sequence(s) ({shown}){half}; pass --overwrite to replace "
            "them, or choose an empty --out"
        )
    ensure_writable_folder(out, "--out")


def read_working_frames(seq: Sequence, cfg: VOSGANConfig, size: int | None = None):
    """(N, H, W) of a video, its frames and shots at the working size, or (the error, None, None) when it
    cannot be read; frames are resized as they are decoded, so a long or large video never sits in
    memory at its own size."""
    try:
        small, shape = [], None
        for frame in seq.iter_frames() if seq.iter_frames else seq.read_frames():
            if shape is not None and frame.shape[:2] != shape:
                raise DataError(f"frame {len(small)} of {seq.name!r} is {frame.shape[:2]}, the first is {shape}")
            shape = frame.shape[:2]
            h, w = working_size(*shape, cfg, size)
            small.append(resize_frames(frame[None], h, width=w)[0])
        if not small:
            raise DataError(f"{seq.name!r} has no frames")
        frames = np.stack(small)
        return (len(small), *shape), frames, shots_of(frames, cfg)
    except (DataError, OSError, ValueError, cv2.error) as err:
        return err, None, None


def write_sequence(
    seq: Sequence,
    seg: torch.Tensor,
    flow: torch.Tensor | None,
    shape: tuple,
    small: np.ndarray,
    out: Path,
    settings: SegmentConfig,
    threshold: float = 0.5,
    soft: bool = False,
    overwrite: bool = False,
) -> str:
    """Refine, threshold and write one sequence's masks (shots' maps ``seg`` (S, 1, T, h, w)) a frame at a
    time at its own size ``shape`` (N, H, W); the guided filter decodes the video again for its guide."""
    name, (n, height, width) = seq.name, shape
    prepare_sequence_output(out, name, overwrite)
    refiner = Refiner(timeline(seg, n)[:, 0], small, settings)
    images = None  # the guided filter's guide: the video at its own size, decoded again frame by frame
    if settings.refine == "guided":
        images = iter(seq.iter_frames() if seq.iter_frames else seq.read_frames())
    kept = []
    for t in range(n):
        image = next(images, None) if images else None
        if images and image is None:  # the video changed or decoded short the second time
            raise DataError(f"{name!r} gave fewer frames when read again for the guided filter ({t} of {n})")
        probability = refiner.frame(t, image, (height, width))
        write_indexed_png(out / name / f"{t:05d}.png", (probability > threshold).astype(np.uint8))
        if soft:
            kept.append(probability)
    if soft or flow is not None:  # the full arrays were asked for
        flow_full = flow_at(flow, n, height, width) if flow is not None else None
        write_arrays(out, name, np.stack(kept) if soft else None, flow_full)
    mark_complete(out, name)
    return name


def segment_path(
    discriminator: Discriminator,
    cfg: VOSGANConfig,
    input_path: str | os.PathLike,
    out: str | os.PathLike,
    batch_size: int = 16,
    threshold: float = 0.5,
    soft: bool = False,
    with_flow: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    size: int | None = None,
    precision: str = "auto",
    refine: str | None = None,
) -> SegmentReport:
    """Segment every sequence under ``input_path`` into ``out`` (DAVIS layout), each map brought to
    the video's size by the model's refinement (``cfg.segment.refine``) or ``refine``.

    A pipeline: the next sequence is decoded in a thread while the network runs on batches of shots
    taken across sequences, and finished sequences are refined and written by two more threads (the
    guided filter decodes the video a second time, a frame at a time). A sequence that cannot be read
    is skipped and reported in ``SegmentReport.failed``; the others are still written.
    """
    settings = refinement(cfg, refine)
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if not 0 < threshold < 1:
        raise ValueError(f"--threshold must be in (0, 1), got {threshold}")
    working_size(1, 1, cfg, size)  # a bad --size fails before any work
    out, input_path = Path(out), Path(input_path)
    sequences, unnamed = split_by_name(input_sequences(input_path))
    arrays = (("_soft",) if soft else ()) + (("_flow",) if with_flow else ())
    check_output(out, input_path, [s.name for s in sequences], overwrite, arrays)
    report = SegmentReport([], dict(unnamed))
    bar = tqdm(total=len(sequences), desc="segmenting", disable=not progress)

    with ThreadPoolExecutor(2, "vosgan-read") as reader, ThreadPoolExecutor(2, "vosgan-write") as writer:
        ahead = 4  # sequences decoded ahead of the network
        read = partial(read_working_frames, cfg=cfg, size=size)
        write = partial(write_sequence, out=out, settings=settings, threshold=threshold, soft=soft, overwrite=overwrite)
        reads = [reader.submit(read, seq) for seq in sequences[:ahead]]
        pending: list[tuple[int, torch.Tensor]] = []  # (sequence index, shot) waiting for the network
        done: dict[
            int, list
        ] = {}  # sequence index -> [frames shape, shots expected, seg list, flow list, small frames]
        writes = []

        def run_batch(shots: list[tuple[int, torch.Tensor]]) -> None:
            seg, flow = dense_maps(discriminator, torch.stack([s for _, s in shots]), with_flow, precision)
            for k, (i, _) in enumerate(shots):
                entry = done[i]
                entry[2].append(seg[k : k + 1])
                if flow is not None:
                    entry[3].append(flow[k : k + 1])
                if len(entry[2]) == entry[1]:
                    flow_i = torch.cat(entry[3]) if flow is not None else None
                    seq = sequences[i]
                    writes.append(
                        (seq.name, writer.submit(write, seq, torch.cat(entry[2]), flow_i, entry[0], entry[4]))
                    )
                    del done[i]

        for i, seq in enumerate(sequences):
            shape, small, shots = reads[i].result()
            if i + ahead < len(sequences):
                reads.append(reader.submit(read, sequences[i + ahead]))
            reads[i] = None
            if shots is None:
                report.failed[seq.name] = str(shape)
                bar.update(1)
                continue
            done[i] = [shape, len(shots), [], [], small]
            if pending and pending[0][1].shape != shots[0].shape:  # a batch holds shots of one working size
                run_batch(pending)
                pending = []
            pending += [(i, s) for s in shots]
            while len(pending) >= batch_size:
                run_batch(pending[:batch_size])
                pending = pending[batch_size:]
        if pending:
            run_batch(pending)
        for name, w in writes:
            try:
                report.written.append(w.result())
            except (DataError, OSError) as err:
                report.failed[name] = str(err)
            bar.update(1)
    bar.close()
    return report
