"""Multi-process data parallelism with PyTorch DDP under ``torchrun`` (NCCL on GPUs, gloo on CPUs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from vosgan.device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @classmethod
    def single(cls, device: torch.device | str) -> DistInfo:
        """One process on ``device``: no process group."""
        return cls(0, 1, 0, torch.device(device))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "auto") -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment; single-process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistInfo.single(resolve_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if resolved.type == "cuda" else "gloo")
    return DistInfo(rank, world_size, local_rank, resolved)


def all_finite(value: torch.Tensor, info: DistInfo) -> bool:
    """True when ``value`` is finite on every process (all must skip a bad step together)."""
    flag = torch.isfinite(value.detach()).all().float().reshape(1)
    if info.enabled:
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def cleanup_distributed() -> None:
    """Wait for every process, then end the process group (a process that leaves while another is
    still talking to it can abort the other's communication threads)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
