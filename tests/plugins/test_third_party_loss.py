"""A third-party loss plugin: `lsgan-example` from the example distribution plugins/pygan-resnet,
pip-installed into a temporary target directory, found by entry points and used by
`pygan train --loss lsgan-example`."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from pygan import plugins
from pygan.losses import Loss

ROOT = Path(__file__).resolve().parents[2]
LOSS = "lsgan-example"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """pip-installs plugins/pygan-resnet into a target dir (not the environment), as test_discovery does."""
    target, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("src") / "pygan-resnet"
    shutil.copytree(ROOT / "plugins" / "pygan-resnet", source)  # builds happen in the copy, not the repo
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    return target


def pygan_cli(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`pygan ARGS` in a fresh interpreter that sees the installed example distribution."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, (str(site), str(ROOT), os.environ.get("PYTHONPATH"))))}
    return subprocess.run([sys.executable, "-m", "pygan", *args], env=env, cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def least_squares(installed_example, monkeypatch) -> Iterator[Loss]:
    monkeypatch.syspath_prepend(str(installed_example))
    plugins.refresh()
    yield plugins.get_loss(LOSS)
    plugins.refresh()


def test_the_loss_is_listed_with_kind_loss(installed_example):
    out = pygan_cli(installed_example, "plugins", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    row = rows[LOSS]
    assert (row["kind"], row["status"], row["distribution"]) == ("loss", "ok", "pygan-resnet"), row
    assert rows["non-saturating"]["kind"] == "loss" and rows["resnet"]["kind"] == "architecture"


def test_the_loss_computes_the_least_squares_objectives(least_squares):
    assert isinstance(least_squares, Loss) and least_squares.probabilities is False
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    opts = plugins.resolve_options(LOSS, least_squares.options, {})
    assert opts == {"a": 0.0, "b": 1.0, "c": 1.0}
    d = least_squares.discriminator(real, fake, opts)
    # 0.5 mean((x - 1)^2) + 0.5 mean((f - 0)^2) = 0.5 * 2 + 0.5 * 2
    assert d.loss.item() == pytest.approx(2.0) and d.d_real.item() == 2.0 and d.d_fake.item() == -1.0
    g = least_squares.generator(fake, None, plugins.resolve_options(LOSS, least_squares.options, {"c": "0.5"}))
    assert g.loss.item() == pytest.approx(0.5 * (0.25 + 6.25) / 2)  # 0.5 mean((f - 0.5)^2)
    scores = torch.zeros(4, requires_grad=True)
    least_squares.generator(scores, None, opts).loss.backward()
    assert torch.allclose(scores.grad, torch.full((4,), -0.25))  # d/df 0.5 mean((f - 1)^2) at f = 0


def test_training_through_the_cli_with_the_third_party_loss(installed_example, tmp_path):
    run = tmp_path / "run"
    out = pygan_cli(installed_example, "train", "--arch", "mlp", "--plugin", "ring8", "--option", "size=2000",
                    "--loss", LOSS, "--loss-option", "a=-1", "--max-steps", "20", "--batch-size", "32",
                    "--log-every", "10", "--device", "cpu", "--quiet", "--out", str(run), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss_d" in r]
    assert [r["step"] for r in steps] == [10, 20]
    for row in steps:
        assert all(math.isfinite(row[key]) for key in ("loss_d", "loss_g", "d_real", "d_fake")), row
        assert "jsd_lower_bound" not in row  # the bound reads D's BCE loss; least squares has no such reading
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["train"]["loss"] == LOSS
    assert config["train"]["loss_options"] == {"a": -1.0, "b": 1.0, "c": 1.0}
    assert (run / "training.png").is_file()


def test_an_undeclared_loss_option_is_refused_by_name(installed_example, tmp_path):
    out = pygan_cli(installed_example, "train", "--arch", "mlp", "--plugin", "ring8", "--loss", LOSS,
                    "--loss-option", "margin=1", "--max-steps", "1", "--device", "cpu", "--quiet",
                    "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "unknown option 'margin'; its options are: a, b, c" in out.stdout + out.stderr
