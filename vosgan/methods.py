"""Every segmentation method of the kit behind one interface, chosen by what a checkpoint names.

A ``Segmenter`` has ``method``, ``setting`` ('unsupervised', 'fine-tuned', 'supervised' or 'semi-supervised'),
``labels`` (what ground truth its training used), ``needs_first_mask``, ``parameters`` (those run at
test time), ``train`` (steps, seconds) and ``probabilities(frames, first_mask=None)``: RGB uint8
(N, H, W, 3) -> foreground probability (N, H, W) at the video's size. ``segment_sequences`` writes any
of them in the DAVIS layout of ``vosgan segment``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from vosgan.checkpoint import load_checkpoint, load_models
from vosgan.data.io import DataError
from vosgan.models.summary import parameter_count
from vosgan.peers.common import checkpoint_method
from vosgan.segment import (
    Segmentation,
    SegmentReport,
    mark_complete,
    prepare_sequence_output,
    split_by_name,
    write_segmentation,
)


class VOSGANSegmenter:
    """The discriminator's shared encoder and motion stream (``vosgan.segment``)."""

    method, needs_first_mask = "vosgan", False

    def __init__(self, path, device="cpu", flow_cache=None):
        self.cfg, _, self.discriminator = load_models(path, device)
        state = load_checkpoint(path)
        tuned = state.get("finetune")
        self.setting = ("supervised" if tuned.get("from_scratch") else "fine-tuned") if tuned else "unsupervised"
        self.labels = f"{tuned['label_fraction']:.0%} of the train masks" if tuned else "none"
        self.train = state.get("train", {})

    @property
    def parameters(self) -> int:
        return parameter_count(self.discriminator.shared) + parameter_count(self.discriminator.motion)

    def probabilities(self, frames: np.ndarray, first_mask: np.ndarray | None = None) -> np.ndarray:
        from vosgan.segment import segment_frames

        return segment_frames(self.discriminator, self.cfg, frames).probabilities


def _cis(path, device="cpu", flow_cache=None, crf=None):
    from vosgan.peers.cis import CISSegmenter

    return CISSegmenter(path, device, flow_cache=flow_cache, crf=crf)


def _fastgan(path, device="cpu", flow_cache=None):
    from vosgan.peers.fastgan import FaSTGANSegmenter

    return FaSTGANSegmenter(path, device)


LOADERS = {"vosgan": VOSGANSegmenter, "cis": _cis, "fastgan": _fastgan}


def load_segmenter(path, device: str | torch.device = "cpu", flow_cache=None, crf=None):
    """The segmenter of the method ``path`` names (its ``method`` entry; VOS-GAN when it has none);
    ``flow_cache`` (a ``FlowCache``) keeps the flow of a method that computes it (CIS); ``crf`` (a
    ``vosgan.peers.crf.CRFConfig``) switches on CIS's CRF post-processing."""
    method = checkpoint_method(path)
    if method not in LOADERS:
        raise DataError(f"{path} was written by method {method!r}, which this kit does not know ({sorted(LOADERS)})")
    if crf is None:
        return LOADERS[method](path, device, flow_cache)
    if method != "cis":
        raise ValueError(f"the CRF post-processing is CIS's (its Sect. 4.1); {path} holds a {method} model")
    return LOADERS[method](path, device, flow_cache, crf)


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
) -> tuple[SegmentReport, Timing]:
    """Segment each ``Sequence`` into ``out/<name>/<frame>.png`` (id 1 = foreground); a sequence that
    fails (unreadable, or no first-frame annotation for a semi-supervised method) is reported, not fatal.
    With ``overwrite``, an earlier run's masks of a sequence are removed before its new ones are written."""
    out = Path(out)
    sequences, unnamed = split_by_name(sequences)
    report, timing = SegmentReport([], dict(unnamed)), Timing()
    for seq in tqdm(sequences, desc=f"segmenting ({segmenter.method})", disable=not progress):
        try:
            frames = seq.read_frames()
            first = first_annotation(seq) if segmenter.needs_first_mask else None
            begin = time.perf_counter()
            probabilities = segmenter.probabilities(frames, first)
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
