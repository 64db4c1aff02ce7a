"""The run as objects: RunSpec, GanStep, end-of-run hooks, plugin groups, old checkpoints, host reads."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from pygan.cli import app
from pygan.training import Config, GanStep, Trainer, resolve
from pygan.training import checkpoint as ckpt
from tests.training.conftest import image_config, ring_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _ring(out: Path, log_every: int, **train) -> Config:
    config = ring_config(out, **train)
    config.output.log_every = log_every
    return config


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_resolve_fills_every_default_and_leaves_the_callers_config_alone(tmp_path):
    config = ring_config(tmp_path / "run")
    before = dataclasses.asdict(config)
    run = resolve(config)
    assert dataclasses.asdict(config) == before  # nothing written back
    assert (run.train.lr, run.train.beta1, run.train.beta2, run.train.lr_decay) == (2e-4, 0.5, 0.999, 0.5)
    assert run.train.loss_options == {"real_label": 1.0} and run.train.precision == "fp32"
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.train.lr = 1.0  # type: ignore[misc]
    saved = run.to_dict()
    assert None not in [v for section in saved.values() for v in section.values()]
    assert resolve(run.to_config()) == dataclasses.replace(run, precision_reason=resolve(run.to_config())
                                                           .precision_reason)


@pytest.mark.parametrize("fixture", ["v1-mlp-ring8", "v1-dcgan-faces"])
def test_checkpoints_of_format_1_still_resume_and_sample(fixture, tmp_path):
    run = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, run)
    old_step = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"]
    assert ckpt.load(run)["version"] == ckpt.VERSION  # migrated as it is read
    trainer = Trainer(Config(), resume_from=run, overrides={("train", "max_steps"): old_step + 2})
    assert trainer.step == old_step
    assert trainer.fit()["steps"] == old_step + 2
    result = CliRunner().invoke(app, ["sample", str(run), "--n", "4", "--out", str(tmp_path / "grid.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").is_file()


def test_a_run_cut_by_max_steps_ends_with_a_row_a_grid_and_the_plot(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--arch", "dcgan", "--plugin", "faces", "--max-steps", "30",
                                      "--batch-size", "16", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [r for r in _rows(out) if "loss_d" in r]
    assert rows[-1]["step"] == 30 and "partial" not in rows[-1]
    assert (out / "samples" / "step-0000030.png").is_file() and (out / "training.png").is_file()
    assert ckpt.load(out)["step"] == 30


def test_the_end_row_is_partial_and_replaced_when_the_run_resumes(tmp_path):
    Trainer(_ring(tmp_path / "run", 5, epochs=2, max_steps=7)).fit()
    rows = _rows(tmp_path / "run")
    assert [r["step"] for r in rows] == [5, 7] and rows[-1]["partial"] and "partial" not in rows[0]
    Trainer(Config(), resume_from=tmp_path / "run", overrides={("train", "max_steps"): 0}).fit()
    Trainer(_ring(tmp_path / "whole", 5, epochs=2)).fit()
    strip = lambda rows: [{k: v for k, v in r.items() if k != "images_per_s"} for r in rows]  # noqa: E731
    assert strip(_rows(tmp_path / "run")) == strip(_rows(tmp_path / "whole"))  # [5, 10, 15, 16 partial]


def _count_host_reads(monkeypatch) -> list[tuple[str, torch.dtype]]:
    """Wraps the Tensor methods that copy a value to the host; records each call on a floating tensor."""
    reads: list[tuple[str, torch.dtype]] = []
    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)

        def wrapped(self, *args, _original=original, _name=name, **kwargs):
            if self.is_floating_point():
                reads.append((_name, self.dtype))
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, wrapped)
    return reads


def test_a_gan_step_reads_nothing_back_to_the_host(tiny_images, tmp_path, monkeypatch):
    config = image_config(tiny_images, tmp_path / "run", ema=0.9, regularisers=["r1:1:2"], augment="flip")
    gan = GanStep(resolve(config))
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    gan.train_step(real)  # the first step checks the contract (shapes only)
    reads = _count_host_reads(monkeypatch)
    for _ in range(4):
        gan.train_step(real)
    assert reads == []


def test_the_trainer_reads_logged_values_only_at_logging_steps(tmp_path, monkeypatch):
    trainer = Trainer(_ring(tmp_path / "run", 5, epochs=2))  # 16 steps
    reads = _count_host_reads(monkeypatch)
    reads_in_steps: list[int] = []
    original_step, original_row = trainer.gan.train_step, trainer._row

    def step(real):
        reads.clear()
        original_step(real)
        reads_in_steps.append(len(reads))

    rows_at: list[int] = []

    def row(*args, **kwargs):
        rows_at.append(trainer.step)
        return original_row(*args, **kwargs)
    monkeypatch.setattr(trainer.gan, "train_step", step)
    monkeypatch.setattr(trainer, "_row", row)
    trainer.fit()
    assert reads_in_steps == [0] * 16  # nothing read back inside any step
    assert rows_at == [5, 10, 15, 16]  # the logged values are read for a row every 5 steps and the last one


def test_regularisers_and_augmentations_are_plugins_that_train_and_resume_exactly(tiny_images, tmp_path):
    extra = dict(epochs=3, regularisers=["r1:0.5:2"], augment="flip", augment_options={"p": 0.7})
    whole = Trainer(image_config(tiny_images, tmp_path / "whole", **extra))
    whole.fit()
    rows = [r for r in _rows(tmp_path / "whole") if "loss_d" in r]
    assert all(r["augment_p"] == pytest.approx(0.7) for r in rows)
    assert [("penalty_r1" in r) for r in rows] == [True, False] * 3  # lazy: every 2nd D step (steps 0, 2, 4)
    assert all(r["penalty_r1"] > 0 for r in rows if "penalty_r1" in r)
    saved = (tmp_path / "whole" / "config.toml").read_text()
    assert 'regularisers = [\n    "r1:0.5:2",\n]' in saved or 'regularisers = ["r1:0.5:2"]' in saved
    first = Trainer(image_config(tiny_images, tmp_path / "split", max_steps=3, **extra))
    first.fit()
    resumed = Trainer(Config(), resume_from=tmp_path / "split", overrides={("train", "max_steps"): 0})
    resumed.fit()
    for a, b in ((whole.generator, resumed.generator), (whole.discriminator, resumed.discriminator)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_the_jsd_bound_is_logged_only_for_the_minimax_objective(tmp_path):
    Trainer(ring_config(tmp_path / "plain", epochs=1)).fit()
    Trainer(ring_config(tmp_path / "smoothed", epochs=1, real_label=0.9)).fit()
    assert all(0.0 <= r["jsd_lower_bound"] <= 0.6932 for r in _rows(tmp_path / "plain"))
    assert not any("jsd_lower_bound" in r for r in _rows(tmp_path / "smoothed"))
    saved = ckpt.load(tmp_path / "smoothed")["config"]["train"]
    assert saved["loss_options"] == {"real_label": 0.9}


def test_plugin_names_and_regulariser_spelling_are_checked(tmp_path):
    from pygan.plugins import PluginError
    from pygan.training.config import ConfigError

    with pytest.raises(PluginError, match="unknown regulariser 'r9'"):
        resolve(ring_config(tmp_path / "a", regularisers=["r9"]))
    with pytest.raises(ConfigError, match="expected NAME\\[:weight\\[:every\\]\\]"):
        resolve(ring_config(tmp_path / "b", regularisers=["r1:1:2:3"]))
    with pytest.raises(ConfigError, match="every must be >= 1"):
        resolve(ring_config(tmp_path / "c", regularisers=["r1:1:0"]))
    with pytest.raises(Exception, match="flip cannot augment --plugin ring8"):
        resolve(ring_config(tmp_path / "d", augment="flip"))
    with pytest.raises(ConfigError, match="--loss must be one of hinge, least-squares, non-saturating"):
        resolve(ring_config(tmp_path / "e", loss="nope"))
