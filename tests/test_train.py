"""The trainer: determinism, exact resume, atomic checkpoints, the NaN guard, the CLI and DDP."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vosgan.cli.main import main
from vosgan.config import get_preset
from vosgan.models.checkpoint import CheckpointError, load_checkpoint, load_models, save_checkpoint
from vosgan.training.distributed import DistInfo
from vosgan.training.loop import Callback, Checkpointer
from vosgan.training.trainer import Trainer, TrainingDiverged

CPU = DistInfo.single(torch.device("cpu"))


def make_trainer(dataset, cfg=None, **kw):
    return Trainer(cfg or get_preset("tiny"), dataset, CPU, seed=0, **kw)


def params(trainer):
    return torch.cat([p.detach().flatten() for p in [*trainer.G.parameters(), *trainer.D.parameters()]])


def test_steps_update_both_networks_and_log_every_term(tiny_dataset):
    trainer = make_trainer(tiny_dataset)
    flat = lambda net: torch.cat([p.detach().flatten() for p in net.parameters()])  # noqa: E731
    g_before, d_before = flat(trainer.G).clone(), flat(trainer.D).clone()
    metrics = trainer.fit(2, progress=False)
    assert trainer.step == 2 and len(metrics) == 2
    assert not torch.equal(g_before, flat(trainer.G))  # the generator moved
    assert not torch.equal(d_before, flat(trainer.D))  # and so did the discriminator, on its own step
    m = metrics[-1]
    for key in (
        "d_loss",
        "d_adversarial",
        "d_segmentation",
        "d_flow_fake",
        "d_flow_real",
        "g_loss",
        "alpha",
        "clips_per_s",
    ):
        assert key in m and m[key] == m[key]  # present and not NaN
    assert m["d_segmentation"] > 0 and m["d_flow_real"] > 0


def test_same_seed_same_run(tiny_dataset):
    a = make_trainer(tiny_dataset).fit(3, progress=False)
    b = make_trainer(tiny_dataset).fit(3, progress=False)
    assert [x["d_loss"] for x in a] == [x["d_loss"] for x in b]
    assert [x["g_loss"] for x in a] == [x["g_loss"] for x in b]


def test_resume_equals_uninterrupted(tiny_dataset, tmp_path):
    # 7 steps cross an epoch boundary (24-clip train split, batch 4 -> 4 steps per epoch).
    straight = make_trainer(tiny_dataset)
    full = straight.fit(7, progress=False)
    first = make_trainer(tiny_dataset)
    first.fit(3, [Checkpointer(tmp_path / "ckpt.pt", every=0)], progress=False)
    resumed = make_trainer(tiny_dataset)
    resumed.load_state_dict(load_checkpoint(tmp_path / "ckpt.pt"))
    assert resumed.step == 3
    rest = resumed.fit(7, progress=False)
    assert [x["d_loss"] for x in rest] == [x["d_loss"] for x in full[3:]]
    assert [x["g_loss"] for x in rest] == [x["g_loss"] for x in full[3:]]
    assert torch.equal(params(resumed), params(straight))


def test_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"config": {}, "generator": {"w": torch.ones(2)}, "discriminator": {}})

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full.*previous file is untouched"):
        save_checkpoint(path, {"config": {}, "generator": {"w": torch.zeros(2)}, "discriminator": {}})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["generator"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_checkpoint_from_another_preset_is_refused(tiny_dataset, tmp_path):
    trainer = make_trainer(tiny_dataset)
    save_checkpoint(tmp_path / "c.pt", trainer.state_dict())
    other = get_preset("tiny").with_overrides(generator={"ngf": 8})
    with pytest.raises(CheckpointError, match="does not fit"):
        make_trainer(tiny_dataset, cfg=other).load_state_dict(load_checkpoint(tmp_path / "c.pt"))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match='junk.pt is a text file starting "junk", not a checkpoint'):
        load_checkpoint(tmp_path / "junk.pt")
    (tmp_path / "binary.pt").write_bytes(b"\x80\x02\xff junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "binary.pt")
    cfg, gen, disc = load_models(tmp_path / "c.pt")
    assert cfg == get_preset("tiny") and not gen.training


def _poison(trainer, calls):
    """Make the discriminator's logit NaN for the first ``calls`` discriminator steps."""
    forward = trainer.discriminator.forward
    state = {"left": calls}

    def poisoned(video):
        out = forward(video)
        if state["left"] > 0 and torch.is_grad_enabled() and trainer.D.training and video.requires_grad is False:
            state["left"] -= 1
            out.logit = out.logit * float("nan")
        return out

    trainer.discriminator.forward = poisoned


def test_nan_steps_are_skipped_and_counted(tiny_dataset):
    trainer = make_trainer(tiny_dataset)
    _poison(trainer, calls=2)  # the real pass of step 1 and its fake pass: one D update skipped
    d_before = [p.detach().clone() for p in trainer.D.parameters()]
    metrics = trainer.fit(1, progress=False)[0]
    assert metrics["d_ok"] is False and metrics["skipped_steps"] == 1
    assert all(torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
    assert metrics["g_ok"] is True and trainer.bad_steps == 1
    trainer.fit(2, progress=False)
    assert trainer.bad_steps == 0 and trainer.skipped_steps == 1  # a clean step ends the streak


def test_a_skipped_step_leaves_no_nan_batchnorm_statistics(tiny_dataset):
    """A NaN real batch poisons D's BatchNorm statistics during the forward pass; the skipped step
    must restore them, or every later step would be NaN as well."""
    trainer = make_trainer(tiny_dataset)
    d_step = trainer.d_step
    calls = {"n": 0}

    def nan_first_batch(batch):
        calls["n"] += 1
        if calls["n"] == 1:
            batch = {**batch, "video": batch["video"] * float("nan")}
        return d_step(batch)

    trainer.d_step = nan_first_batch
    buffers = [b.clone() for b in trainer.D.buffers()]
    first = trainer.fit(1, progress=False)[0]
    assert first["d_ok"] is False
    assert all(torch.equal(a, b) for a, b in zip(buffers, trainer.D.buffers(), strict=True))
    later = trainer.fit(3, progress=False)
    assert all(r["d_ok"] and r["g_ok"] for r in later) and trainer.bad_steps == 0


def test_a_run_whose_end_is_not_finite_says_so_and_is_not_marked_done(tmp_path, monkeypatch):
    """The checkpointer refuses non-finite weights; the run must then fail with the reason, not return
    as if its checkpoint held its end (and an experiment must not mark it finished)."""
    from vosgan.data.datasets import ClipDataset
    from vosgan.data.synthetic import make_benchmark
    from vosgan.training import runs

    cfg = get_preset("tiny")
    clips = make_benchmark(8, cfg.frames, cfg.size, seed=0, split="train")

    class Spoil(Callback):
        def on_step(self, trainer, figures):
            if trainer.step == 2:
                with torch.no_grad():
                    next(trainer.D.parameters()).fill_(float("nan"))

    run_training = runs.run_training
    monkeypatch.setattr(runs, "run_training", lambda *a, **k: run_training(*a, **k, callbacks=[Spoil()]))
    dataset = lambda: ClipDataset.from_synthetic(clips, cfg.size, progress=False)  # noqa: E731
    with pytest.raises(TrainingDiverged, match=r"not finite.*\(step 2\); no checkpoint with finite weights"):
        runs.train_once(cfg, dataset, tmp_path / "r", 2)
    assert not (tmp_path / "r" / "DONE").exists() and not (tmp_path / "r" / "checkpoint.pt").exists()


def test_persistent_nans_stop_the_run_with_a_clear_error(tiny_dataset):
    trainer = make_trainer(tiny_dataset, max_bad_steps=3)
    _poison(trainer, calls=10**6)
    with pytest.raises(TrainingDiverged, match="consecutive steps"):
        trainer.fit(10, progress=False)


def test_sigterm_stops_after_the_step_and_saves(tiny_dataset, tmp_path):
    class Terminate(Callback):
        def on_step(self, trainer, metrics):
            if trainer.step == 2:
                os.kill(os.getpid(), signal.SIGTERM)

    trainer = make_trainer(tiny_dataset)
    trainer.fit(50, [Terminate(), Checkpointer(tmp_path / "c.pt", every=0)], progress=False)
    assert trainer.step == 2
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 2


def test_cli_train_tiny_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--videos", "30", "--iterations", "3", "--out", str(out), "--no-progress"]
    assert main([*args, "--sample-every", "3"]) == 0
    assert f"checkpoint: {out / 'checkpoint.pt'}" in capsys.readouterr().out  # the last line names it
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert (out / "samples" / "samples_0000003.png").stat().st_size > 1000
    assert main(args) == 2 and "--resume" in capsys.readouterr().err  # never overwrites silently
    args[args.index("3")] = "5"
    first = load_checkpoint(out / "checkpoint.pt")["train"]
    assert main([*args, "--resume"]) == 0
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["step"] == 5
    # The training-time record `vosgan compare` reads sums the steps of both pieces, as logged.
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert first["steps"] == 3 and first["seconds"] > 0
    assert state["train"]["steps"] == 5 and state["train"]["seed"] == 0
    assert state["train"]["seconds"] == pytest.approx(sum(r["seconds"] for r in rows), rel=1e-9)
    assert (
        main(["train", "--preset", "small", "--videos", "30", "--iterations", "1", "--out", str(out), "--resume"]) == 2
    )
    assert "does not fit" in capsys.readouterr().err


def test_cli_training_options_reach_the_saved_config(tmp_path):
    out = tmp_path / "run"
    options = [
        "--g-steps",
        "2",
        "--mask-prior",
        "10",
        "--mask-area",
        "0.1",
        "--mask-binary",
        "1",
        "--mode-seeking",
        "0.5",
    ]
    args = ["train", "--preset", "tiny", "--videos", "30", "--iterations", "1", "--out", str(out), "--no-progress"]
    assert main([*args, *options]) == 0
    saved = load_checkpoint(out / "checkpoint.pt")["config"]
    assert saved["train"]["g_steps"] == 2
    assert (saved["loss"]["mask_prior"], saved["loss"]["mask_area"], saved["loss"]["mask_binary"]) == (10.0, 0.1, 1.0)
    assert saved["loss"]["mode_seeking"] == 0.5
    # Continuing the folder with other options works but says which settings changed.
    args[args.index("1")] = "2"
    with pytest.warns(UserWarning, match=r"loss.mode_seeking: 0.5 -> 0.0.*train.g_steps: 2 -> 1"):
        assert main([*args, "--resume"]) == 0


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
    reason="torchrun missing",
)
def test_ddp_two_cpu_processes_keep_identical_replicas(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    report = tmp_path / "ddp.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        str(torchrun),
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        str(Path(__file__).with_name("ddp_worker.py")),
        str(report),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["steps"] == 3 and len(data["sums"]) == 2
    assert data["sums"][0] == data["sums"][1]  # identical replicas after 3 synchronised steps
    assert all(x == x for x in data["losses"])


def test_table_4_baseline_trains_without_the_self_supervised_terms(tiny_dataset):
    from vosgan.config import ablation

    metrics = make_trainer(tiny_dataset, cfg=ablation("tiny", "baseline")).fit(2, progress=False)[-1]
    assert metrics["d_segmentation"] == 0 and metrics["d_flow_fake"] == 0 and metrics["d_flow_real"] == 0
    assert metrics["alpha"] == 1.0 and metrics["d_adversarial"] > 0


def test_mask_prior_option_adds_to_the_generator_loss(tiny_dataset):
    plain = make_trainer(tiny_dataset).fit(1, progress=False)[-1]
    sparse_cfg = get_preset("tiny").with_overrides(loss={"mask_prior": 10.0})
    sparse = make_trainer(tiny_dataset, cfg=sparse_cfg).fit(1, progress=False)[-1]
    # Same seed, same first D step; the G loss adds 10 * mean(m), about 10 * 0.5 at initialisation.
    assert sparse["d_loss"] == plain["d_loss"]
    assert 4.0 < sparse["g_loss"] - plain["g_loss"] < 6.0


def test_mode_seeking_option_adds_to_the_generator_loss(tiny_dataset):
    plain = make_trainer(tiny_dataset).fit(1, progress=False)[-1]
    seeking_cfg = get_preset("tiny").with_overrides(loss={"mode_seeking": 0.01})
    seeking = make_trainer(tiny_dataset, cfg=seeking_cfg).fit(1, progress=False)[-1]
    # Same first D step; at initialisation every mask is near 0.5, so d(m1, m2) << d(z1, z2) and
    # the term (0.01 / ratio, about 0.8 here) is large.
    assert seeking["d_loss"] == plain["d_loss"]
    assert seeking["g_loss"] - plain["g_loss"] > 0.3


def test_g_steps_updates_the_generator_that_many_times_per_discriminator_update(tiny_dataset):
    one = make_trainer(tiny_dataset)
    two = make_trainer(tiny_dataset, cfg=get_preset("tiny").with_overrides(train={"g_steps": 2}))
    one.fit(1, progress=False), two.fit(1, progress=False)
    # Same seed: the discriminators took the same single step; the generators differ by one update.
    for a, b in zip(one.D.parameters(), two.D.parameters()):
        torch.testing.assert_close(a, b)
    assert two.opt_g.state_dict()["state"][0]["step"] == 2 * one.opt_g.state_dict()["state"][0]["step"] == 2
    assert two.opt_d.state_dict()["state"][0]["step"] == 1
    with pytest.raises(ValueError, match="g_steps"):
        get_preset("tiny").with_overrides(train={"g_steps": 0})


def test_default_length_is_the_presets_epochs(tiny_dataset, tmp_path):
    from vosgan.training.runs import run_training

    cfg = get_preset("tiny").with_overrides(train={"epochs": 2})
    trainer = run_training(cfg, tiny_dataset, tmp_path / "run", device="cpu", sample_every=0, progress=False)
    assert trainer.step == 2 * trainer.steps_per_epoch == 2 * (len(tiny_dataset) // 4)


def test_thread_tuner_keeps_the_faster_setting():
    from types import SimpleNamespace

    from vosgan.training.callbacks import ThreadTuner

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        tuner = ThreadTuner(2, every=4, probe=2)
        trainer = SimpleNamespace(step=0)
        seen = []
        # 2 threads take 3 s (a busy neighbour), 1 thread takes 1 s: the probe at step 4 switches for good
        for step in range(1, 11):
            trainer.step = step
            metrics = {"seconds": 3.0 if torch.get_num_threads() == 2 else 1.0}
            tuner.on_step(trainer, metrics)
            seen.append(metrics["threads"])
        assert seen[:4] == [2, 2, 2, 2] and seen[4:6] == [1, 1] and torch.get_num_threads() == 1
        # the neighbour leaves: 2 threads are faster again, found at the next probe (step 12)
        for step in range(11, 16):
            trainer.step = step
            tuner.on_step(trainer, {"seconds": 0.7 if torch.get_num_threads() == 2 else 1.2})
        assert torch.get_num_threads() == 2 and tuner.current == 2
    finally:
        torch.set_num_threads(before)


def test_constructing_a_trainer_leaves_the_process_rng_alone(tiny_dataset):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = make_trainer(tiny_dataset)
    assert torch.equal(torch.rand(3), expected)
    b = make_trainer(tiny_dataset)  # the seed still fixes the weights
    assert torch.equal(params(a), params(b))
