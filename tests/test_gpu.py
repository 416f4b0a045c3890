"""CUDA paths (mixed precision, device placement). Skipped on machines without a GPU, as CI has none."""

import pytest
import torch

from vosgan.config import get_preset
from vosgan.device import autocast, resolve_device
from vosgan.training.distributed import DistInfo
from vosgan.training.trainer import Trainer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_auto_device_picks_cuda_only_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")


def test_precision_auto_is_bf16_where_the_hardware_has_it(monkeypatch):
    import contextlib

    import vosgan.device as device

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    assert device.resolve_precision("auto", cpu) == "fp32" and device.resolve_precision("auto", gpu) == "bf16"
    assert isinstance(autocast(cpu), contextlib.nullcontext)  # a CPU without bf16 falls back to fp32
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    assert device.resolve_precision("auto", cpu) == "bf16"
    for dev in (cpu, gpu):
        assert isinstance(autocast(dev, "fp32"), contextlib.nullcontext)
        context = autocast(dev)
        assert isinstance(context, torch.autocast) and context.fast_dtype == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        device.resolve_precision("fp16", cpu)


def test_bf16_training_on_the_cpu_runs_convolutions_in_bf16_and_keeps_fp32_state(tiny_dataset):
    cfg = get_preset("tiny").with_overrides(train={"precision": "bf16"})
    trainer = Trainer(cfg, tiny_dataset, DistInfo.single(torch.device("cpu")), seed=0)
    seen = []
    hook = trainer.D.register_forward_hook(lambda m, i, o: seen.append(o.segmentation.dtype))
    metrics = trainer.fit(2, progress=False)
    hook.remove()
    assert trainer.precision == "bf16" and metrics[-1]["precision"] == "bf16"
    assert seen and all(dtype == torch.bfloat16 for dtype in seen)
    assert trainer.state_dict()["train"]["precision"] == "bf16"
    # weights, optimizer moments and BatchNorm statistics stay fp32
    state = [*trainer.G.state_dict().values(), *trainer.D.state_dict().values()]
    assert all(t.dtype in (torch.float32, torch.int64) for t in state)
    moments = [v for s in trainer.opt_d.state_dict()["state"].values() for v in s.values() if v.dim()]
    assert moments and all(m.dtype == torch.float32 for m in moments)
    assert all(torch.isfinite(torch.tensor(m["d_loss"])) for m in metrics)
    fp32 = Trainer(
        get_preset("tiny").with_overrides(train={"precision": "fp32"}),
        tiny_dataset,
        DistInfo.single(torch.device("cpu")),
        seed=0,
    )
    seen.clear()
    hook = fp32.D.register_forward_hook(lambda m, i, o: seen.append(o.segmentation.dtype))
    fp32.fit(1, progress=False)
    hook.remove()
    assert seen and all(dtype == torch.float32 for dtype in seen)


@pytest.mark.gpu
@cuda
def test_training_step_on_cuda_with_mixed_precision(tiny_dataset):
    trainer = Trainer(get_preset("tiny"), tiny_dataset, DistInfo.single(torch.device("cuda")), seed=0)
    metrics = trainer.fit(2, progress=False)
    assert all(m["d_ok"] and m["g_ok"] for m in metrics)
    assert next(trainer.G.parameters()).device.type == "cuda"
