"""The loss plugins after 2014 (hinge, least-squares, wasserstein, relativistic): their objectives
against the formulas written out by hand, their gradients, and short trainings with each."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from pygan_plugins.hinge import Hinge
from pygan_plugins.least_squares import LeastSquares
from pygan_plugins.relativistic import Relativistic
from pygan_plugins.wasserstein import Wasserstein

from pygan import plugins
from pygan.losses import Loss
from pygan.plugins import PluginError
from pygan.training import Trainer
from tests.training.conftest import ring_config


def _d_hinge(real, fake, o):
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _d_least_squares(real, fake, o):
    return 0.5 * (real - o["real_target"]).square().mean() + 0.5 * (fake - o["fake_target"]).square().mean()


def _d_wasserstein(real, fake, o):
    return fake.mean() - real.mean()


def _d_relativistic(real, fake, o):
    return torch.log1p(torch.exp(fake - real)).mean()


def _g_least_squares(fake, real, o):
    return 0.5 * (fake - o["generator_target"]).square().mean()


def _g_relativistic(fake, real, o):
    return torch.log1p(torch.exp(real - fake)).mean()


def _g_minus_score(fake, real, o):
    return -fake.mean()


# name, plugin, given options, D's objective, G's objective, written out
CASES = [
    ("hinge", Hinge(), {}, _d_hinge, _g_minus_score),
    ("least-squares", LeastSquares(), {}, _d_least_squares, _g_least_squares),
    ("least-squares", LeastSquares(), {"real-target": "1", "fake-target": "-1", "generator-target": "0"},
     _d_least_squares, _g_least_squares),
    ("wasserstein", Wasserstein(), {}, _d_wasserstein, _g_minus_score),
    ("relativistic", Relativistic(), {}, _d_relativistic, _g_relativistic),
]
IDS = ["hinge", "least-squares", "least-squares-chi2", "wasserstein", "relativistic"]


def _logits(n: int = 37, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores on both sides of every margin and target (spread over about [-4, 4])."""
    g = torch.Generator().manual_seed(seed)
    return (2 * torch.randn(n, generator=g, dtype=torch.float64),
            2 * torch.randn(n, generator=g, dtype=torch.float64))


@pytest.mark.parametrize(("name", "loss", "given", "d_formula", "g_formula"), CASES, ids=IDS)
def test_objectives_match_the_formulas_and_their_gradients(name, loss, given, d_formula, g_formula):
    assert isinstance(loss, Loss) and loss.probabilities is False and not loss.minimax_value({})
    options = plugins.resolve_options(name, loss.options, given)
    real, fake = _logits()
    real_ours, fake_ours = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    real_ref, fake_ref = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)

    d = loss.discriminator(real_ours, fake_ours, options)
    d_ref = d_formula(real_ref, fake_ref, options)
    torch.testing.assert_close(d.loss, d_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(d.d_real, real.mean())  # mean raw scores, not probabilities
    torch.testing.assert_close(d.d_fake, fake.mean())
    assert not d.d_real.requires_grad and not d.d_fake.requires_grad
    d.loss.backward()
    d_ref.backward()
    torch.testing.assert_close(real_ours.grad, real_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fake_ours.grad, fake_ref.grad, rtol=1e-12, atol=1e-12)
    assert real_ours.grad.abs().sum() > 0 and fake_ours.grad.abs().sum() > 0

    fake_ours.grad = fake_ref.grad = None
    real_in = real if loss.generator_needs_real else None
    g = loss.generator(fake_ours, real_in, options)
    g_ref = g_formula(fake_ref, real, options)
    torch.testing.assert_close(g.loss, g_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g.d_fake, fake.mean())
    g.loss.backward()
    g_ref.backward()
    torch.testing.assert_close(fake_ours.grad, fake_ref.grad, rtol=1e-12, atol=1e-12)
    assert fake_ours.grad.abs().sum() > 0


def test_hinge_costs_nothing_beyond_its_margins():
    d = Hinge().discriminator(torch.tensor([1.0, 3.0]), torch.tensor([-1.0, -5.0]), {})
    assert d.loss.item() == 0.0
    d = Hinge().discriminator(torch.tensor([0.0]), torch.tensor([0.5]), {})
    assert d.loss.item() == pytest.approx(1.0 + 1.5)


def test_least_squares_options_and_their_ranges():
    loss = LeastSquares()
    assert plugins.resolve_options("least-squares", loss.options, {}) == {
        "real_target": 1.0, "fake_target": 0.0, "generator_target": 1.0}
    opts = plugins.resolve_options("least-squares", loss.options, {"fake-target": "-1"})
    # 0.5 (3 - 1)^2 + 0.5 (-1 - -1)^2; G: 0.5 (-1 - 1)^2
    assert loss.discriminator(torch.tensor([3.0]), torch.tensor([-1.0]), opts).loss.item() == pytest.approx(2.0)
    assert loss.generator(torch.tensor([-1.0]), None, opts).loss.item() == pytest.approx(2.0)
    for bad in ("nan", "inf", "1e9"):
        with pytest.raises(PluginError, match="real-target"):
            plugins.resolve_options("least-squares", loss.options, {"real-target": bad})


def test_the_relativistic_generator_reads_the_real_scores():
    loss = Relativistic()
    assert loss.generator_needs_real is True
    real, fake = _logits(8)
    g_low = loss.generator(fake, real - 1.0, {}).loss
    g_high = loss.generator(fake, real + 1.0, {}).loss
    assert g_high > g_low  # reals scored higher make each fake look worse by comparison
    torch.testing.assert_close(g_high, F.softplus(real + 1.0 - fake).mean())
    with pytest.raises(ValueError, match="real"):
        loss.generator(fake, None, {})


def test_wasserstein_says_it_needs_a_lipschitz_constraint():
    assert "gradient-penalty" in Wasserstein.description and "diverges" in Wasserstein.description


@pytest.mark.parametrize(("name", "cls"), [("hinge", Hinge), ("least-squares", LeastSquares),
                                           ("wasserstein", Wasserstein), ("relativistic", Relativistic)])
def test_each_loss_is_found_by_its_entry_point_name(name, cls):
    plugins.refresh()
    info = plugins.discover(plugins.LOSSES)[name]
    assert info.distribution == "pygan"
    assert isinstance(plugins.get_loss(name), cls)


def _rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("loss", "options"), [("hinge", {}), ("least-squares", {"fake-target": -1.0})])
def test_a_short_training_with_the_loss_has_finite_losses(loss, options, tmp_path):
    out = tmp_path / "run"
    config = ring_config(out, loss=loss, loss_options=options, epochs=1)  # 8 steps
    result = Trainer(config).fit()
    assert result["steps"] == 8
    rows = [r for r in _rows(out) if "loss_d" in r]
    assert len(rows) == 8
    for row in rows:
        assert all(math.isfinite(row[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake")), row
        assert "jsd_lower_bound" not in row  # no JSD reading for these losses
    saved = (out / "config.toml").read_text()
    assert f'loss = "{loss}"' in saved
