"""Device and precision choice in one place: CUDA when present, the CPU otherwise; bf16 autocast
wherever the hardware runs it natively (CUDA, CPUs with AVX512-BF16 or AMX), fp32 elsewhere."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from vosgan.config import PRECISIONS


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``'auto'`` -> CUDA if available else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but CUDA is not available; use --device cpu or auto")
    return resolved


def cpu_has_bf16() -> bool:
    """True when this PyTorch build runs bf16 matmuls and convolutions natively on this CPU (oneDNN
    reports AVX512-BF16 or AMX); elsewhere bf16 is emulated and slower than fp32."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """``'auto'`` -> ``'bf16'`` on CUDA and on CPUs with native bf16, ``'fp32'`` otherwise; ``'bf16'``
    and ``'fp32'`` are kept (bf16 on a CPU without it runs, slowly)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16()) else "fp32"


def autocast(device: torch.device, precision: str = "auto"):
    """The forward passes' precision: bf16 autocast (no loss scaling needed) where ``precision``
    resolves to bf16, a no-op context for fp32. Losses, optimizer state and BatchNorm statistics
    stay fp32, as autocast leaves them."""
    if resolve_precision(precision, device) == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` for explicit sampling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)
