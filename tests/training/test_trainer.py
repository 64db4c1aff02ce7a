"""The trainer: artefacts of a run, exact resume, determinism, NaN stops, checkpoint safety."""

from __future__ import annotations

import json
import math
import os
import pickle
import tomllib

import pytest
import torch
from PIL import Image

from pygan.training import Config, NonFiniteLoss, Trainer, TrainingError
from pygan.training import checkpoint as ckpt
from pygan.training.config import ConfigError
from pygan.training.run_dir import RunDirectoryError
from tests.training.conftest import image_config, ring_config


def test_a_two_step_run_produces_every_artifact(tiny_images, tmp_path):
    config = Config()
    config.data.plugin = "image-folder"
    config.data.options = {"data-dir": str(tiny_images), "image-size": 16}
    config.model.options = {"ngf": 4, "ndf": 4}
    config.train.batch_size = 4
    config.train.epochs = 1
    config.output.out = str(tmp_path / "run")
    config.output.log_every = 1
    config.output.samples = 9
    summary = Trainer(config).fit()
    run = tmp_path / "run"
    assert summary["steps"] == 2 and summary["epochs"] == 1
    saved = (run / "config.toml").read_text()
    assert 'arch = "dcgan"' in saved and "image_size = 16" in saved and "lr = 0.0002" in saved
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert set(rows[0]) == {"step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "images_per_s", "lr", "threads",
                            "jsd_lower_bound"}
    assert all(r["jsd_lower_bound"] == max(0.0, math.log(2) - r["loss_d"] / 2) for r in rows)
    assert all(r["lr"] == 2e-4 for r in rows)  # dcgan keeps a constant lr
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 and r["loss_d"] > 0 for r in rows)
    grid = Image.open(run / "samples" / "epoch-0001.png")
    assert grid.size[0] >= 3 * 16  # 3x3 grid of 16 px images (scaled up for viewing)
    assert Image.open(run / "training.png").size[0] > 100
    state = ckpt.load(run / "checkpoints" / "latest.pt")
    assert state["step"] == 2 and state["epoch"] == 1
    assert {"generator", "discriminator", "opt_g", "opt_d", "z_rng", "torch_rng", "config"} <= set(state)
    assert (run / "checkpoints" / "epoch-0001.pt").is_file()
    assert not list(run.rglob("*.tmp"))


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {**{f"g.{k}": v for k, v in trainer.generator.state_dict().items()},
            **{f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()}}


def _rows(run) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows]


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_interrupted_and_resumed_run_ends_with_the_same_weights(tmp_path, ema):
    whole = Trainer(ring_config(tmp_path / "whole", epochs=3, ema=ema))
    whole.fit()
    first = Trainer(ring_config(tmp_path / "split", epochs=3, ema=ema, max_steps=11))  # stops mid-epoch 2
    assert first.fit()["steps"] == 11
    resumed = Trainer(Config(), resume_from=tmp_path / "split", overrides={("train", "max_steps"): 0})
    assert resumed.step == 11 and resumed.epoch == 1 and resumed.batch_in_epoch == 3
    resumed.fit()
    assert resumed.step == whole.step == 24
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    if ema:
        for x, y in zip(whole.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
            assert torch.equal(x, y)
    assert _rows(tmp_path / "whole") == _rows(tmp_path / "split")


def test_dcgan_resume_is_exact_too(tiny_images, tmp_path):
    def config(out, **train):
        return image_config(tiny_images, out, batch_size=2, epochs=2, **train)

    whole = Trainer(config(tmp_path / "whole"))
    whole.fit()
    Trainer(config(tmp_path / "split", max_steps=5)).fit()
    resumed = Trainer(Config(), resume_from=tmp_path / "split" / "checkpoints" / "latest.pt",
                      overrides={("train", "max_steps"): 0})
    resumed.fit()
    a, b = _weights(whole), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)  # BatchNorm running stats included


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    runs = [Trainer(ring_config(tmp_path / name, epochs=1, seed=seed)) for name, seed in
            (("a", 1), ("b", 1), ("c", 2))]
    for run in runs:
        run.fit()
    a, b, c = (_weights(r) for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_k_discriminator_steps_per_generator_step(tmp_path):
    trainer = Trainer(ring_config(tmp_path / "run", epochs=1, d_steps=4))
    g_before = [p.clone() for p in trainer.generator.parameters()]
    calls = {"g": 0}
    original = trainer.opt_g.step

    def counted_step(*args, **kwargs):
        calls["g"] += 1
        return original(*args, **kwargs)

    trainer.opt_g.step = counted_step
    trainer.fit()
    assert trainer.step == 8 and calls["g"] == 2
    assert any(not torch.equal(p0, p) for p0, p in zip(g_before, trainer.generator.parameters(), strict=True))


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    Trainer(ring_config(tmp_path / "run", epochs=1)).fit()
    good = ckpt.load(tmp_path / "run")
    trainer = Trainer(Config(), resume_from=tmp_path / "run", overrides={("train", "epochs"): 2})
    trainer.dataset.samples[5] = float("nan")  # poison the data the next epoch reads
    with pytest.raises(NonFiniteLoss, match=r"discriminator loss became nan at step (9|1\d) \(epoch 2\)"):
        trainer.fit()
    kept = ckpt.load(tmp_path / "run")
    assert kept["step"] == good["step"] == 8
    assert all(torch.equal(kept["generator"][k], good["generator"][k]) for k in good["generator"])


def test_incompatible_arch_and_dataset(tmp_path):
    config = ring_config(tmp_path / "run")
    config.model.arch, config.model.options = "dcgan", {}
    with pytest.raises(TrainingError, match=r"--arch dcgan cannot train on --plugin ring8: .*try --arch mlp"):
        Trainer(config)


def test_a_run_directory_is_not_overwritten(tmp_path):
    Trainer(ring_config(tmp_path / "run", epochs=1)).fit()
    with pytest.raises(RunDirectoryError, match="never overwritten: resume it with --resume"):
        Trainer(ring_config(tmp_path / "run", epochs=1)).fit()


def test_resume_refuses_changes_that_make_another_run(tmp_path):
    Trainer(ring_config(tmp_path / "run", epochs=1)).fit()
    with pytest.raises(ConfigError, match=r"--batch-size cannot change when resuming"):
        Trainer(Config(), resume_from=tmp_path / "run", overrides={("train", "batch_size"): 8})


def test_old_checkpoints_resume_with_a_constant_lr_and_shorter_epochs_are_refused(tmp_path):
    Trainer(ring_config(tmp_path / "run", epochs=2, max_steps=6)).fit()  # stops after batch 6 of 8
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    state = ckpt.load(latest)
    del state["config"]["train"]["lr_decay"]  # as written before --lr-decay existed (format version 1)
    state["version"] = 1
    torch.save(state, latest)
    resumed = Trainer(Config(), resume_from=tmp_path / "run")
    assert resumed.config.train.lr_decay == 0.0  # such a run had a constant lr and keeps it
    state["config"]["data"]["options"]["size"] = 128  # the data changed: an epoch now has 128 // 32 = 4 batches
    torch.save(state, latest)
    with pytest.raises(TrainingError, match="stopped after batch 6 of an epoch, but an epoch here has 4"):
        Trainer(Config(), resume_from=tmp_path / "run")


def test_truncated_and_foreign_checkpoints_get_clear_errors(tmp_path):
    Trainer(ring_config(tmp_path / "run", epochs=1)).fit()
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    with pytest.raises(ckpt.CheckpointError, match="not a readable pygan checkpoint"):
        ckpt.load(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ckpt.CheckpointError, match="not a pygan checkpoint"):
        ckpt.load(foreign)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(ckpt.CheckpointError):
        ckpt.load(text)
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load(tmp_path / "missing.pt")
    with pytest.raises(ckpt.CheckpointError, match=r"without checkpoints/latest.pt"):
        ckpt.load(tmp_path)


class _Payload:
    def __reduce__(self):
        return (os.makedirs, ("PAYLOAD_DIR",))


def test_loading_a_checkpoint_never_executes_code_from_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "x": _Payload()}, evil, pickle_module=pickle)
    with pytest.raises(ckpt.CheckpointError):
        ckpt.load(evil)
    assert not (tmp_path / "PAYLOAD_DIR").exists()


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    ckpt.save_atomic({"step": 1}, path)

    def failing_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_atomic({"step": 2}, path)
    monkeypatch.undo()
    assert ckpt.load(path)["step"] == 1
    assert list(tmp_path.iterdir()) == [path]


def test_config_from_toml_with_overrides(tmp_path):
    from pygan.training import config as cfg

    file = tmp_path / "run.toml"
    file.write_text('[model]\narch = "mlp"\n[train]\nepochs = 7\nlr = 1e-3\n[data]\nplugin = "grid25"\n')
    config = cfg.load(file)
    cfg.apply_overrides(config, "train", {"epochs": 3, "seed": None})
    assert (config.model.arch, config.train.epochs, config.train.lr, config.data.plugin) == ("mlp", 3, 1e-3, "grid25")
    file.write_text("[train]\nepoch = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'epoch' in \[train\]"):
        cfg.load(file)
    file.write_text('[train]\nepochs = "many"\n')
    with pytest.raises(ConfigError, match="epochs must be int"):
        cfg.load(file)
    file.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg.load(file)
    bad = Config()
    bad.train.loss = "focal"
    with pytest.raises(ConfigError, match="--loss must be one of hinge, least-squares, non-saturating, relativistic"):
        bad.validate()


def test_pacgan_packing_feeds_d_groups_of_samples(tmp_path):
    trainer = Trainer(ring_config(tmp_path / "run", epochs=1, pack=4))
    first = next(m for m in trainer.discriminator.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 2 * 4  # four 2-D points per judgement
    # PacGAN's convention: --batch-size counts D's examples, so a step draws 4 x 32 = 128 points
    # and D still judges 32 packs of real and 32 of generated points.
    assert (trainer.samples_per_step, trainer.batches_per_epoch) == (128, 256 // 128)
    seen = []
    trainer.discriminator.register_forward_hook(lambda mod, args, out: seen.append((args[0].shape, out.shape)))
    assert trainer.fit()["steps"] == 2
    assert seen[0] == ((32, 8), (32,))
    packed = trainer.gan.packed(torch.arange(16.0).view(8, 2))  # 8 points -> 2 packs of 4 consecutive points
    assert torch.equal(packed, torch.arange(16.0).view(2, 8))
    assert Trainer(ring_config(tmp_path / "other", pack=3)).samples_per_step == 96  # any pack size fits


def test_lr_decay_falls_linearly_to_zero_over_the_end_of_the_run(tmp_path):
    trainer = Trainer(ring_config(tmp_path / "run", epochs=2, lr=1e-3, lr_decay=0.5))  # 16 steps, the last 8 decay
    assert trainer.gan.total_steps == 16
    trainer.fit()
    lrs = {r["step"]: r["lr"] for r in _rows(tmp_path / "run") if "lr" in r}
    # step k (1-based) runs at lr * min(1, (16 - (k - 1)) / 8)
    assert lrs == pytest.approx({k: 1e-3 * min(1.0, (17 - k) / 8) for k in range(1, 17)})
    saved = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert saved["train"]["lr_decay"] == 0.5


def test_lr_decay_defaults_to_the_architectures_and_is_checked(tmp_path):
    trainer = Trainer(ring_config(tmp_path / "run"))
    assert trainer.config.train.lr_decay == trainer.arch.optimizer.lr_decay
    with pytest.raises(ConfigError, match="--lr-decay is a share of training in"):
        Trainer(ring_config(tmp_path / "bad", lr_decay=1.5))


def test_eval_every_writes_evaluation_rows(tmp_path):
    Trainer(ring_config(tmp_path / "run", epochs=2, eval_every=1)).fit()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval" in r]
    assert [r["epoch"] for r in evals] == [1, 2]
    assert evals[0]["eval"]["mode_coverage"]["modes_total"] == 8
    assert (tmp_path / "run" / "training.png").is_file()


def test_eval_every_on_images_reuses_the_data_and_matches_pygan_evaluate(tiny_images, tmp_path, monkeypatch):
    from pygan_plugins.image_folder import ImageFolder

    from pygan.commands.evaluate import evaluate_run

    loads = []
    real_load = ImageFolder.load
    monkeypatch.setattr(ImageFolder, "load", lambda self, options: loads.append(1) or real_load(self, options))
    Trainer(image_config(tiny_images, tmp_path / "run", epochs=2, eval_every=1, eval_features="pixels")).fit()
    assert len(loads) == 1  # the evaluations used the data the trainer holds
    row = [r["eval"] for r in _rows(tmp_path / "run") if "eval" in r][-1]
    alone = evaluate_run(tmp_path / "run", features="pixels")  # loads the data itself; the trainer passed its own
    assert row["features"].startswith("pixels") and row["real_samples"] == 8
    # The trainer scores its in-memory G (channels-last); the CLI a fresh contiguous copy of the same weights:
    # the same numbers up to the convolutions' summation order.
    assert alone["frechet_distance"] > 0
    assert row["frechet_distance"] == pytest.approx(alone["frechet_distance"], rel=1e-6)
    assert row["kid"] == pytest.approx(alone["kid"], rel=1e-5, abs=1e-9)


def test_packing_a_dcgan(tiny_images, tmp_path):
    config = Config()
    config.data.plugin = "image-folder"
    config.data.options = {"data-dir": str(tiny_images), "image-size": 16}
    config.model.options = {"ngf": 4, "ndf": 4}
    config.train.batch_size, config.train.epochs, config.train.pack = 2, 1, 2
    config.output.out = str(tmp_path / "run")
    trainer = Trainer(config)
    assert next(trainer.discriminator.modules()).net[0].in_channels == 6  # two RGB images side by side
    assert trainer.generator.net[-2].out_channels == 3
    assert trainer.fit()["steps"] == 2


def test_images_per_s_leaves_out_the_time_end_of_epoch_artifacts_take(tmp_path, monkeypatch):
    """A row that spans an epoch's end counts only training time: a slow hook (grid, plot, checkpoint)
    does not drag its images_per_s down. Time is a fake clock that only the slow hook advances."""
    import pygan.training.trainer as trainer_module
    from pygan.training.hooks import Hook

    clock = {"now": 1000.0}

    class SlowArtifacts(Hook):
        def on_epoch_end(self, trainer):
            clock["now"] += 100.0

    class FakeTime:
        @staticmethod
        def perf_counter():
            clock["now"] += 1e-3  # every reading: a millisecond of "training"
            return clock["now"]

    monkeypatch.setattr(trainer_module, "time", FakeTime)
    config = Config()
    config.data.plugin, config.model.arch = "ring8", "mlp"
    config.data.options = {"size": 64 * 3}  # 3 steps an epoch
    config.train.epochs, config.train.batch_size, config.train.threads = 2, 64, 1
    config.output.out, config.output.log_every = str(tmp_path / "run"), 4  # the row at step 4 spans epoch 1's end
    trainer = Trainer(config, hooks=[SlowArtifacts()])
    trainer.fit()
    row = next(r for r in trainer.metrics.rows if r.get("step") == 4)
    assert row["images_per_s"] > 4 * 64 / 1.0  # well under a second of fake time, not the hook's 100 s
