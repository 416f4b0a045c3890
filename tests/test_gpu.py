"""CUDA paths (mixed precision, device placement). Skipped on machines without a GPU, as CI has none."""

import pytest
import torch

from vosgan.config import get_preset
from vosgan.device import autocast, resolve_device
from vosgan.distributed import DistInfo
from vosgan.train import Trainer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_auto_device_falls_back_to_the_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")
    assert isinstance(autocast(torch.device("cpu")), type(autocast(torch.device("cpu"), enabled=False)))


@pytest.mark.gpu
@cuda
def test_training_step_on_cuda_with_mixed_precision(tiny_dataset):
    trainer = Trainer(get_preset("tiny"), tiny_dataset, DistInfo.single(torch.device("cuda")), seed=0)
    metrics = trainer.fit(2, progress=False)
    assert all(m["d_ok"] and m["g_ok"] for m in metrics)
    assert next(trainer.G.parameters()).device.type == "cuda"
