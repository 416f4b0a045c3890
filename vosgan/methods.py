"""Every segmentation method of the kit behind one interface, chosen by what a checkpoint names.

A ``Segmenter`` has ``method``, ``setting`` ('unsupervised', 'fine-tuned', 'supervised' or 'semi-supervised'),
``labels`` (what ground truth its training used), ``needs_first_mask``, ``parameters`` (those run at
test time), ``train`` (steps, seconds), ``segment`` (its ``SegmentConfig``: the refinement it is used
with by default; none without one) and ``probabilities(frames, first_mask=None)``: RGB uint8
(N, H, W, 3) -> foreground probability (N, h, w) on the method's own grid. ``segment_video`` brings
that map to the video's size with the one refinement mechanism (``vosgan.segmentation.refine``), and
``segment_sequences`` writes any method's masks in the DAVIS layout of ``vosgan segment``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from vosgan.config import SegmentConfig
from vosgan.data.io import DataError
from vosgan.models.checkpoint import load_checkpoint, load_models
from vosgan.models.summary import parameter_count
from vosgan.segmentation.refine import refine as refine_maps
from vosgan.segmentation.video import (
    Segmentation,
    SegmentReport,
    mark_complete,
    prepare_sequence_output,
    split_by_name,
    write_segmentation,
)


class VOSGANSegmenter:
    """The discriminator's shared encoder and motion stream (``vosgan.segmentation.video``)."""

    method, needs_first_mask = "vosgan", False

    def __init__(self, source, device="cpu", flow_cache=None):
        state = load_checkpoint(source)
        self.cfg, _, self.discriminator = load_models(state, device)
        tuned = state.get("finetune")
        self.setting = ("supervised" if tuned.get("from_scratch") else "fine-tuned") if tuned else "unsupervised"
        self.labels = f"{tuned['label_fraction']:.0%} of the train masks" if tuned else "none"
        self.train = state.get("train", {})
        self.segment = self.cfg.segment

    @property
    def parameters(self) -> int:
        return parameter_count(self.discriminator.shared) + parameter_count(self.discriminator.motion)

    def probabilities(self, frames: np.ndarray, first_mask: np.ndarray | None = None) -> np.ndarray:
        """The motion stream's map at the working size (N, h, w)."""
        from vosgan.segmentation.video import working_maps

        return working_maps(self.discriminator, self.cfg, frames)[0].numpy()


def _cis(source, device="cpu", flow_cache=None):
    from vosgan.peers.cis import CISSegmenter

    return CISSegmenter(source, device, flow_cache=flow_cache)


def _fastgan(source, device="cpu", flow_cache=None):
    from vosgan.peers.fastgan import FaSTGANSegmenter

    return FaSTGANSegmenter(source, device)


LOADERS = {"vosgan": VOSGANSegmenter, "cis": _cis, "fastgan": _fastgan}


def load_segmenter(source, device: str | torch.device = "cpu", flow_cache=None):
    """The segmenter of the method a checkpoint (a path or a ``Checkpoint``) names, its file read once;
    ``flow_cache`` (a ``FlowCache``) keeps the flow of a method that computes it (CIS)."""
    checkpoint = load_checkpoint(source)
    if checkpoint.method not in LOADERS:
        raise DataError(
            f"{checkpoint.path} was written by method {checkpoint.method!r}, which this kit does not know "
            f"({sorted(LOADERS)})"
        )
    return LOADERS[checkpoint.method](checkpoint, device, flow_cache)


def segment_video(segmenter, frames: np.ndarray, first_mask: np.ndarray | None = None, refine: str | None = None):
    """RGB uint8 (N, H, W, 3) -> foreground probability (N, H, W) at the video's size: the method's map
    refined as its ``segment`` settings say, or by ``refine`` ('none', 'guided', 'crf')."""
    own = getattr(segmenter, "segment", SegmentConfig())  # none by default
    settings = own if refine is None else replace(own, refine=refine)
    return refine_maps(segmenter.probabilities(frames, first_mask), frames, settings)


def first_annotation(seq) -> np.ndarray:
    """The first frame's object ids (H, W) of a sequence, or a ``DataError`` saying where it was expected."""
    if seq.read_masks is None:
        raise DataError(
            f"sequence {seq.name!r} has no annotation; a semi-supervised method needs the first frame's mask "
            f"(a DAVIS root with Annotations/{seq.name}/00000.png)"
        )
    return seq.read_masks()[0]


@dataclass
class Timing:
    """Frames segmented and seconds spent in ``probabilities`` (reading and writing excluded)."""

    frames: int = 0
    seconds: float = 0.0
    per_sequence: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else float("nan")


def segment_sequences(
    segmenter,
    sequences,
    out,
    threshold: float = 0.5,
    soft: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    refine: str | None = None,
) -> tuple[SegmentReport, Timing]:
    """Segment each ``Sequence`` into ``out/<name>/<frame>.png`` (id 1 = foreground; ``segment_video``,
    refined by the method's default or ``refine``); a sequence that fails (unreadable, or no
    first-frame annotation for a semi-supervised method) is reported, not fatal. With ``overwrite``, an
    earlier run's masks of a sequence are removed before its new ones are written. ``Timing`` counts
    the network and the refinement."""
    out = Path(out)
    sequences, unnamed = split_by_name(sequences)
    report, timing = SegmentReport([], dict(unnamed)), Timing()
    for seq in tqdm(sequences, desc=f"segmenting ({segmenter.method})", disable=not progress):
        try:
            frames = seq.read_frames()
            first = first_annotation(seq) if segmenter.needs_first_mask else None
            begin = time.perf_counter()
            probabilities = segment_video(segmenter, frames, first, refine)
            seconds = time.perf_counter() - begin
        except (DataError, OSError, ValueError) as err:
            report.failed[seq.name] = str(err)
            continue
        timing.frames += len(frames)
        timing.seconds += seconds
        timing.per_sequence[seq.name] = seconds
        try:
            prepare_sequence_output(out, seq.name, overwrite)
            write_segmentation(out, seq.name, Segmentation(probabilities, None), threshold, soft)
            mark_complete(out, seq.name)
        except (DataError, OSError) as err:
            report.failed[seq.name] = str(err)
            continue
        report.written.append(seq.name)
    return report, timing
