"""Class-conditional training: labels from the dataset through the trainer into G and D, samples by
class, per-class evaluation, exact resume, and the mismatches refused."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from pygan_plugins.mlp import MLPGAN
from typer.testing import CliRunner

from pygan import plugins
from pygan.cli import app
from pygan.plugins import PluginError
from pygan.training import Config, Trainer
from pygan.training.errors import TrainingError
from pygan.training.run_spec import resolve
from tests.training.conftest import image_config, ring_config


def labelled_ring(out, **train) -> Config:
    config = ring_config(out, **train)
    config.data.options = {"size": 256, "labels": "modes"}
    return config


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {**{f"g.{k}": v for k, v in trainer.generator.state_dict().items()},
            **{f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()}}


@pytest.fixture
def class_folders(tmp_path):
    """Two classes of four 16 px images: dark ones in cats/, bright ones in dogs/."""
    root = tmp_path / "classes"
    for name, level in (("cats", 30), ("dogs", 220)):
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((16, 16, 3), level + i, dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_the_real_batch_reaches_the_step_with_its_own_labels(tmp_path):
    trainer = Trainer(labelled_ring(tmp_path / "run", epochs=1))
    seen = []
    original = trainer.gan.train_step

    def spy(real, labels=None):
        seen.append((real.clone(), labels.clone()))
        return original(real, labels)

    trainer.gan.train_step = spy
    trainer.fit()
    assert len(seen) == 8
    modes = plugins.get_dataset("ring8").modes()
    for real, labels in seen:  # std 0.01: a point's nearest mode is the mode it was drawn from
        assert torch.equal(torch.cdist(real, modes).argmin(1), labels)


def test_g_and_d_take_the_labels(tmp_path):
    trainer = Trainer(labelled_ring(tmp_path / "run", epochs=1))
    gan = trainer.gan
    z = torch.randn(16, 2)
    zeros, threes = torch.zeros(16, dtype=torch.long), torch.full((16,), 3, dtype=torch.long)
    with torch.no_grad():
        assert not torch.equal(gan.generate(z, zeros), gan.generate(z, threes))
        x = torch.randn(16, 2)
        assert not torch.equal(gan.judge(x, zeros), gan.judge(x, threes))
    with pytest.raises(PluginError, match="needs the labels of what it judges"):
        gan.judge(x)
    with pytest.raises(PluginError, match="train_step needs the real batch's labels"):
        gan.train_step(x)


def test_class_sampling_follows_the_data_or_is_uniform(tmp_path):
    frequency = Trainer(labelled_ring(tmp_path / "f", epochs=1))
    counts = torch.bincount(frequency.dataset.labels, minlength=8).double()
    assert torch.equal(frequency.gan.class_weights, counts)
    uniform = Trainer(labelled_ring(tmp_path / "u", epochs=1, class_sampling="uniform"))
    assert torch.equal(uniform.gan.class_weights, torch.ones(8))
    draws = uniform.gan.fake_labels()
    assert draws.dtype == torch.int64 and draws.shape == (32,) and 0 <= draws.min() and draws.max() < 8


def test_a_labelled_run_resumes_bit_exactly(tmp_path):
    whole = Trainer(labelled_ring(tmp_path / "whole", epochs=2, ema=0.9))
    whole.fit()
    Trainer(labelled_ring(tmp_path / "split", epochs=2, ema=0.9, max_steps=5)).fit()
    resumed = Trainer(Config(), resume_from=tmp_path / "split", overrides={("train", "max_steps"): 0})
    assert resumed.run.conditional
    resumed.fit()
    a, b = _weights(whole), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_packing_and_penalties_work_with_labels(tmp_path):
    trainer = Trainer(labelled_ring(tmp_path / "run", epochs=1, pack=2, regularisers=["r1:1", "r2:1"]))
    summary = trainer.fit()
    assert summary["steps"] == 4 and np.isfinite(summary["last"]["loss_d"])
    assert summary["last"]["penalty_r1"] > 0 and summary["last"]["penalty_r2"] > 0


def test_a_penalty_that_leaves_out_the_labels_is_refused_with_the_fix(tmp_path):
    trainer = Trainer(labelled_ring(tmp_path / "run", epochs=1))
    from pygan.regularisers import PenaltyInputs

    x = torch.randn(8, 2)
    inputs = PenaltyInputs(trainer.gan.judge, x, x, torch.Generator())
    with pytest.raises(PluginError, match=re.escape("labels=inputs.real_labels")):
        inputs.discriminator(x)


def test_an_unconditional_architecture_on_labelled_data_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(MLPGAN, "conditional", False)
    with pytest.raises(TrainingError, match=r"labelled \(8 classes\).*not class-conditional.*--option labels=none"):
        resolve(labelled_ring(tmp_path / "run"))


def test_unlabelled_data_keeps_unconditional_nets_and_their_weights(tmp_path):
    trainer = Trainer(ring_config(tmp_path / "run", epochs=1))
    assert not trainer.run.conditional and trainer.discriminator.projection is None
    assert all("projection" not in k for k in trainer.discriminator.state_dict())


def test_a_conditional_dcgan_on_class_folders_trains_samples_by_class_and_evaluates_per_class(class_folders,
                                                                                                 tmp_path):
    config = image_config(class_folders, tmp_path / "run", batch_size=4, epochs=2)
    config.data.options["labels"] = "folders"
    trainer = Trainer(config)
    assert trainer.spec.classes == ("cats", "dogs")
    assert trainer.dataset.labels.tolist() == [0] * 4 + [1] * 4
    trainer.fit()
    grid = Image.open(tmp_path / "run" / "samples" / "epoch-0002.png")  # one row of 8 per class
    assert grid.height < grid.width
    runner = CliRunner()
    out = tmp_path / "dogs.png"
    result = runner.invoke(app, ["sample", str(tmp_path / "run"), "--class", "dogs", "--n", "4", "--out", str(out)])
    assert result.exit_code == 0 and "of class dogs" in result.output and out.exists()
    result = runner.invoke(app, ["sample", str(tmp_path / "run"), "--class", "horses"])
    assert result.exit_code == 2 and "the classes are: cats, dogs" in result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path / "run"), "--features", "pixels", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["per_class"]) == {"cats", "dogs"}
    assert all(v["real_samples"] == 4 and v["samples"] == 4 for v in report["per_class"].values())


def test_sample_class_on_an_unconditional_run_is_refused(tmp_path):
    Trainer(ring_config(tmp_path / "run", epochs=1)).fit()
    result = CliRunner().invoke(app, ["sample", str(tmp_path / "run"), "--class", "0"])
    assert result.exit_code == 2 and "--class needs a class-conditional run" in result.output


def test_evaluate_reports_each_class_on_its_own_mode(tmp_path):
    Trainer(labelled_ring(tmp_path / "run", epochs=1)).fit()
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "run"), "--samples", "80", "--json"])
    report = json.loads(result.output)
    shares = report["per_class"]["on_own_mode"]
    assert list(shares) == [f"mode-{k}" for k in range(8)] and all(0.0 <= s <= 1.0 for s in shares.values())
    assert report["per_class"]["lowest"] == min(shares.values())
