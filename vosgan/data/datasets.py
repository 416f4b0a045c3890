"""PyTorch datasets of fixed-length shots with optical flow, and the DataLoader factory."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from vosgan.data.clips import cut_shots, resize_frames, to_tensor
from vosgan.data.flow import FlowCache, farneback
from vosgan.data.io import DataError
from vosgan.data.readers import Sequence, clip_starts
from vosgan.data.synthetic import SyntheticClip


@dataclass
class Shot:
    """One shot at the preset resolution: frames (T, S, S, 3) uint8, ids (T, S, S) uint8 or None."""

    frames: np.ndarray
    masks: np.ndarray | None
    label: str | None
    sequence: str
    start: int
    original_size: tuple[int, int]  # (H, W) before resizing, to map predictions back


def sequence_shots(seq: Sequence, size: int, length: int, shift: int | None = None) -> list[Shot]:
    """Load one sequence and cut it: consecutive padded shots, or windows every ``shift`` frames."""
    frames = seq.read_frames()
    masks = seq.read_masks() if seq.read_masks else None
    if masks is not None and masks.shape[:3] != frames.shape[:3]:
        raise DataError(
            f"sequence {seq.name!r}: {len(masks)} masks of {masks.shape[1:3]} "
            f"for {len(frames)} frames of {frames.shape[1:3]}"
        )
    original = frames.shape[1:3]
    frames = resize_frames(frames, size)
    masks = resize_frames(masks, size, nearest=True) if masks is not None else None
    if shift is None or len(frames) < length:
        starts = list(range(0, len(frames), length))
        frame_shots, _ = cut_shots(frames, length)
        mask_shots = cut_shots(masks, length)[0] if masks is not None else [None] * len(frame_shots)
    else:
        starts = clip_starts(len(frames), length, shift)
        frame_shots = [frames[s : s + length] for s in starts]
        mask_shots = [masks[s : s + length] if masks is not None else None for s in starts]
    return [Shot(f, m, seq.label, seq.name, s, original) for f, m, s in zip(frame_shots, mask_shots, starts)]


class ClipDataset(Dataset):
    """Shots of ``frames`` frames at ``size`` x ``size`` with their Farneback flow.

    Items are dicts: ``video`` (3, T, H, W) in [-1, 1], ``flow`` (2, T, H, W) in pixels,
    ``mask`` (1, T, H, W) binary foreground (zeros when unknown), ``has_mask``, ``label``
    (class index, -1 when unknown) and ``index``. Sequences that fail to load are skipped with a warning and
    counted in ``skipped``, so one corrupt file never ends a long run.
    """

    def __init__(
        self,
        shots: list[Shot],
        flow_cache: FlowCache | None = None,
        classes: list[str] | None = None,
        skipped: int = 0,
        progress: bool = True,
        flows: list[np.ndarray] | None = None,
    ):
        if not shots:
            raise DataError("the dataset has no shots: every sequence was empty or failed to load")
        self.shots = shots
        self.skipped = skipped
        self.flow_cache = flow_cache
        labels = sorted({s.label for s in shots if s.label is not None})
        self.classes = classes if classes is not None else labels
        # Without a disk cache, flow is computed once here (or given, ``flows``) and kept in memory.
        self._flows = flows
        if flow_cache is None and flows is None:
            self._flows = [
                farneback(s.frames) for s in tqdm(shots, desc="optical flow", disable=not progress, leave=False)
            ]

    @classmethod
    def from_sequences(
        cls,
        sequences: list[Sequence],
        size: int,
        frames: int,
        shift: int | None = None,
        flow_cache: FlowCache | None = None,
        progress: bool = True,
    ) -> ClipDataset:
        shots, skipped = [], 0
        for seq in tqdm(sequences, desc="loading videos", disable=not progress, leave=False):
            try:
                shots += sequence_shots(seq, size, frames, shift)
            except (DataError, OSError, ValueError) as err:
                skipped += 1
                warnings.warn(f"skipping {seq.name}: {err}", stacklevel=2)
        if skipped:
            warnings.warn(f"{skipped} of {len(sequences)} sequences could not be read and were skipped", stacklevel=2)
        return cls(shots, flow_cache, skipped=skipped, progress=progress)

    @classmethod
    def from_synthetic(
        cls, clips: list[SyntheticClip], size: int, progress: bool = True, flows: list[np.ndarray] | None = None
    ) -> ClipDataset:
        """The embedded benchmark, resized to ``size`` if rendered at another resolution; ``flows``: the
        clips' flow at ``size`` when already computed (``vosgan.data.sources.synthetic_pool``)."""
        shots = []
        for i, c in enumerate(clips):
            frames, masks = c.frames, c.masks
            if frames.shape[1] != size:
                frames, masks = resize_frames(frames, size), resize_frames(masks, size, nearest=True)
            shots.append(Shot(frames, masks, c.motion, f"synth{i:05d}", 0, c.frames.shape[1:3]))
        if flows is not None and (len(flows) != len(shots) or any(f.shape[1] != size for f in flows[:1])):
            flows = None  # flow of clips at another size: computed again at this one
        return cls(shots, progress=progress, flows=flows)

    def __len__(self) -> int:
        return len(self.shots)

    def flow(self, index: int) -> np.ndarray:
        """Flow (T, H, W, 2) in pixels of shot ``index``."""
        if self._flows is not None:
            return self._flows[index]
        return self.flow_cache(self.shots[index].frames)

    def video(self, index: int) -> torch.Tensor:
        """Clip ``index`` alone (C, T, H, W) in [-1, 1], without its flow or labels."""
        return to_tensor(self.shots[index].frames)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        shot = self.shots[index]
        flow = torch.from_numpy(np.ascontiguousarray(self.flow(index)))
        if shot.masks is not None:
            mask = torch.from_numpy(shot.masks > 0).float().unsqueeze(0)
        else:
            mask = torch.zeros(1, *shot.frames.shape[:3])
        return {
            "video": self.video(index),
            "flow": rearrange(flow, "t h w c -> c t h w").contiguous(),
            "mask": mask,
            "has_mask": torch.tensor(shot.masks is not None),
            "label": torch.tensor(self.classes.index(shot.label) if shot.label in self.classes else -1),
            "index": torch.tensor(index),
        }


def _seed_worker(worker_id: int) -> None:
    np.random.seed(torch.initial_seed() % 2**32)


def epoch_order(
    size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1, shuffle: bool = True
) -> list[int]:
    """This process's sample indices for one epoch: a permutation fixed by (seed, epoch), sharded by rank."""
    sampler = DistributedSampler(
        range(size), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    return list(sampler)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int = 0,
    epoch: int = 0,
    skip_batches: int = 0,
    rank: int = 0,
    world_size: int = 1,
    shuffle: bool = True,
    workers: int = 0,
) -> DataLoader:
    """A DataLoader over one epoch whose order depends only on (seed, epoch, rank).

    With ``world_size > 1`` each process gets its ``DistributedSampler`` shard; ``skip_batches``
    drops batches already consumed, so a resumed run sees exactly the batches it would have seen.
    """
    indices = epoch_order(len(dataset), seed, epoch, rank, world_size, shuffle)
    indices = indices[skip_batches * batch_size :]
    return DataLoader(
        dataset, batch_size, sampler=indices, num_workers=workers, drop_last=True, worker_init_fn=_seed_worker
    )
