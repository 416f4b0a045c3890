"""Recomputing D's BatchNorm statistics on real clips: the exact statistics, nothing else changed."""

import pytest
import torch

from vosgan.cli.main import main
from vosgan.models.checkpoint import load_checkpoint, load_models
from vosgan.training.recalibrate import recalibrate_batchnorm


def first_batchnorm(module):
    return next(m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))


def test_statistics_are_the_mean_of_the_batches_and_nothing_else_changes(tiny_models, tiny_dataset):
    _, _, disc = tiny_models
    disc.train()
    before = {k: v.clone() for k, v in disc.state_dict().items()}
    recalibrated = recalibrate_batchnorm(disc, tiny_dataset, clips=10, batch_size=4, seed=3)
    assert not recalibrated.training
    assert all(torch.equal(v, disc.state_dict()[k]) for k, v in before.items())  # the input is untouched
    for (name, p), q in zip(disc.named_parameters(), recalibrated.parameters()):
        assert torch.equal(p, q), name
    # by hand: the same 10 clips in batches of 4, 4, 2; the first BatchNorm's input means, averaged over batches
    order = torch.randperm(len(tiny_dataset), generator=torch.Generator().manual_seed(3))[:10]
    bn, seen = first_batchnorm(disc), []
    hook = bn.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].detach()))
    with torch.no_grad():
        for chunk in order.split(4):
            disc(torch.stack([tiny_dataset.video(int(i)) for i in chunk]))
    hook.remove()
    dims = [0, *range(2, seen[0].dim())]
    expected_mean = torch.stack([x.mean(dims) for x in seen]).mean(0)
    expected_var = torch.stack([x.var(dims, unbiased=True) for x in seen]).mean(0)
    got = first_batchnorm(recalibrated)
    torch.testing.assert_close(got.running_mean, expected_mean, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.running_var, expected_var, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(got.running_mean, bn.running_mean)  # which the training batches had moved elsewhere
    with pytest.raises(ValueError, match="clips"):
        recalibrate_batchnorm(disc, tiny_dataset, clips=0)


def test_monitor_evaluates_and_keeps_the_recalibrated_discriminator(tmp_path, tiny_dataset):
    from vosgan.config import get_preset
    from vosgan.segmentation.evaluation import SegmenterEvaluation
    from vosgan.training.callbacks import SegmenterMonitor
    from vosgan.training.distributed import DistInfo
    from vosgan.training.trainer import Trainer

    cfg = get_preset("tiny").with_overrides(train={"bn_clips": 8})
    trainer = Trainer(cfg, tiny_dataset, DistInfo.single(torch.device("cpu")), seed=0)
    monitor = SegmenterMonitor(
        tmp_path, 1, SegmenterEvaluation("val", benchmark={"count": 20, "frames": 16, "size": 32})
    )
    trainer.fit(1, [monitor], progress=False)
    best = load_checkpoint(tmp_path / "best.pt")["discriminator"]
    expected = recalibrate_batchnorm(trainer.D, tiny_dataset, 8, seed=0).state_dict()
    assert all(torch.equal(best[k], v) for k, v in expected.items())
    live = trainer.D.state_dict()
    assert any(not torch.equal(best[k], live[k]) for k in live if k.endswith("running_mean"))


def test_export_recalibrates_and_records_it(tmp_path, tiny_checkpoint):
    out = tmp_path / "recalibrated.pt"
    args = ["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--no-progress"]
    assert main([*args, "--bn-clips", "6", "--videos", "12", "--seed", "1"]) == 0
    state = load_checkpoint(out)
    assert state["bn_recalibration"] == {
        "clips": 6,
        "seed": 1,
        "data": "synthetic",
        "format": "davis",
        "split": "unlabeled",
        "videos": 12,
    }
    _, _, before = load_models(tiny_checkpoint)
    _, _, after = load_models(out)
    for p, q in zip(before.parameters(), after.parameters()):
        assert torch.equal(p, q)
    assert not torch.allclose(first_batchnorm(before).running_mean, first_batchnorm(after).running_mean)
    assert main([*args, "--overwrite"]) == 0 and "bn_recalibration" not in load_checkpoint(out)  # 0: kept as trained
