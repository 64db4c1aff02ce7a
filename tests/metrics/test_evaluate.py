"""Evaluating image runs: the report states its sample counts and dimension, warns when the Frechet
distance has fewer samples than dimensions, and `pygan evaluate` shows its progress."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pygan.cli import app
from pygan.commands.evaluate import evaluate_run
from pygan.training import Config, Trainer

runner = CliRunner()


@pytest.fixture
def run_64px(tmp_path):
    """A one-step dcgan run (ngf = ndf = 4) on a folder of thirty 64 px RGB images."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    config = Config()
    config.data.plugin = "image-folder"
    config.data.options = {"data-dir": str(folder), "image-size": 64}
    config.model.options = {"ngf": 4, "ndf": 4}
    config.train.batch_size, config.train.epochs = 30, 1
    config.output.out = str(tmp_path / "run")
    Trainer(config).fit()
    return tmp_path / "run"


def test_a_64px_rgb_run_of_30_images_is_scored_in_the_span_of_its_samples(run_64px):
    lines: list[str] = []
    report = evaluate_run(run_64px, features="pixels", progress=lines.append)
    assert report["samples"] == report["real_samples"] == 30  # as many generated as real by default
    assert report["feature_dim"] == 3 * 64 * 64
    assert report["frechet_distance"] > 0 and np.isfinite(report["kid"])
    assert report["kid_std"] is None  # the one KID subset is all 30 of each: no spread to report
    assert report["warnings"] == ["Frechet distance from 30 samples in 12288 dimensions is dominated by "
                                  "estimation bias; use more samples or --features with fewer dimensions"]
    assert any(line.startswith("generating 30 samples") for line in lines)
    assert any(line.startswith("features of 30 real samples") for line in lines)
    assert any(line.startswith("statistics:") for line in lines)
    more = evaluate_run(run_64px, features="pixels", samples=100)
    assert more["samples"] == 100 and more["real_samples"] == 30 and more["kid_std"] > 0
    assert more["warnings"][0].startswith("Frechet distance from 30 samples in 12288 dimensions")


def test_the_library_is_quiet_and_enough_samples_bring_no_warning(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(60):  # 60 images of 4 x 4 x 3 = 48 values
        Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    config = Config()
    config.data.plugin = "image-folder"
    config.data.options = {"data-dir": str(folder), "image-size": 4}
    config.model.arch = "mlp"
    config.model.options = {"hidden": 8, "layers": 1}
    config.train.batch_size, config.train.epochs = 20, 1
    config.output.out = str(tmp_path / "run")
    Trainer(config).fit()
    capsys.readouterr()
    report = evaluate_run(tmp_path / "run", features="pixels")
    assert capsys.readouterr() == ("", "")
    assert report["feature_dim"] == 48 and report["samples"] == report["real_samples"] == 60
    assert report["frechet_distance"] > 0 and "warnings" not in report
    few = evaluate_run(tmp_path / "run", features="pixels", samples=40)
    assert few["samples"] == few["real_samples"] == 40
    assert few["warnings"] == ["Frechet distance from 40 samples in 48 dimensions is dominated by estimation "
                               "bias; use more samples or --features with fewer dimensions"]


def test_pygan_evaluate_shows_progress_and_the_counts(run_64px):
    result = runner.invoke(app, ["evaluate", str(run_64px), "--features", "pixels"])
    assert result.exit_code == 0, result.output
    out = result.output
    for stage in ("generating 30 samples and their features (pixels)", "features of 30 real samples (pixels)",
                  "statistics: Frechet distance, KID, precision and recall (30 generated, 30 real samples, "
                  "12,288 dimensions)"):
        assert stage in out
    assert "samples: 30" in result.stdout and "real_samples: 30" in result.stdout
    assert "feature_dim: 12288" in result.stdout
    assert "warning: Frechet distance from 30 samples in 12288 dimensions" in result.stdout
    result = runner.invoke(app, ["evaluate", str(run_64px), "--features", "pixels", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)  # not a terminal: the JSON alone
    assert report["real_samples"] == 30 and report["feature_dim"] == 12288 and len(report["warnings"]) == 1


def test_repeated_faces_are_scored_once_each(tmp_path):
    """The bundled faces serve 200 distinct images (100 and their mirror images) 20 times an epoch:
    the real side of the report counts each image once, not 2,500 copies."""
    import torch

    from pygan.metrics.evaluate import evaluate

    class Flat(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, z):
            return torch.tanh(self.scale * z[:, :1].view(-1, 1, 1, 1).expand(-1, 1, 16, 16))

    report = evaluate(Flat(), lambda n, seed: torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)),
                      "faces", {"image-size": 16}, features="pixels")
    assert report["real_samples"] == 200 and report["samples"] == 200


def test_a_feature_network_with_the_wrong_output_is_refused(run_64px, tmp_path):
    import torch

    from pygan.metrics.features import EvaluationError

    class Pooled(torch.nn.Module):
        def forward(self, x):
            return x.mean()  # one number for the whole batch

    path = tmp_path / "bad.pt"
    torch.jit.script(Pooled()).save(str(path))
    with pytest.raises(EvaluationError, match=r"--features: the feature network returned shape"):
        evaluate_run(run_64px, features=str(path))
