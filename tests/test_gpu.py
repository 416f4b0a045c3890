"""CUDA paths (mixed precision, device placement). Skipped on machines without a GPU, as CI has none."""

import pytest
import torch

from vosgan.config import get_preset
from vosgan.device import autocast, resolve_device
from vosgan.distributed import DistInfo
from vosgan.train import Trainer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_auto_device_picks_cuda_only_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")


def test_autocast_is_bf16_on_cuda_and_off_on_the_cpu():
    import contextlib

    assert isinstance(autocast(torch.device("cpu")), contextlib.nullcontext)
    assert isinstance(autocast(torch.device("cuda"), enabled=False), contextlib.nullcontext)
    cuda_context = autocast(torch.device("cuda"))
    assert isinstance(cuda_context, torch.autocast) and cuda_context.fast_dtype == torch.bfloat16


@pytest.mark.gpu
@cuda
def test_training_step_on_cuda_with_mixed_precision(tiny_dataset):
    trainer = Trainer(get_preset("tiny"), tiny_dataset, DistInfo.single(torch.device("cuda")), seed=0)
    metrics = trainer.fit(2, progress=False)
    assert all(m["d_ok"] and m["g_ok"] for m in metrics)
    assert next(trainer.G.parameters()).device.type == "cuda"
