"""The gradient penalties on D (r1, r2, gradient-penalty): values and weight gradients against the
penalty written out with plain autograd, through a small D and through dcgan's, their seeded
randomness, and short trainings with each."""

from __future__ import annotations

import json
import math

import pytest
import torch
from pygan_plugins.dcgan import DCGAN
from pygan_plugins.gradient_penalty import GradientPenalty
from pygan_plugins.r1 import R1
from pygan_plugins.r2 import R2

from pygan import plugins
from pygan.plugins import DataSpec
from pygan.regularisers import PenaltyInputs, Regulariser
from pygan.training import GanStep, Trainer, resolve
from tests.training.conftest import image_config, ring_config

SEED = 7


def _small_d() -> torch.nn.Module:
    """Images (N, 2, 3, 3) -> (N,) scores; tanh so the input gradient depends on the input."""
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(18, 16), torch.nn.Tanh(),
                               torch.nn.Linear(16, 1), torch.nn.Flatten(0)).double()


def _dcgan_d() -> torch.nn.Module:
    torch.manual_seed(3)
    models = DCGAN().build(DataSpec((3, 16, 16)), {"latent_dim": 8, "ngf": 4, "ndf": 4, "spectral_norm": False})
    return models.discriminator.double()


def _batches(shape: tuple[int, ...], n_real: int, n_fake: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    return (torch.randn(n_real, *shape, generator=g, dtype=torch.float64),
            torch.randn(n_fake, *shape, generator=g, dtype=torch.float64))


def _input_gradient(d: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return grad.flatten(1)


def _reference(name: str, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The penalty with plain autograd and tensor arithmetic (no pygan op)."""
    if name == "r1":
        return 0.5 * _input_gradient(d, real).square().sum(1).mean()
    if name == "r2":
        return 0.5 * _input_gradient(d, fake).square().sum(1).mean()
    n = min(len(real), len(fake))
    eps = torch.rand(n, generator=torch.Generator().manual_seed(SEED), dtype=real.dtype)
    eps = eps.view(n, *([1] * (real.dim() - 1)))
    x_hat = eps * real[:n] + (1 - eps) * fake[:n]
    return (_input_gradient(d, x_hat).norm(dim=1) - 1).square().mean()


PLUGINS = {"r1": R1(), "r2": R2(), "gradient-penalty": GradientPenalty()}


def _check_against_reference(name: str, d: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor,
                             rtol: float) -> None:
    weights = [p for p in d.parameters() if p.requires_grad]
    inputs = PenaltyInputs(d, real, fake, torch.Generator().manual_seed(SEED))
    ours = PLUGINS[name].penalty(inputs)
    ref = _reference(name, d, real, fake)
    assert ours.dim() == 0 and ours.dtype == torch.float64
    torch.testing.assert_close(ours, ref, rtol=rtol, atol=0)
    # The last layer's bias moves no input gradient, so it gets none (zeros here) from either.
    ours_grads = torch.autograd.grad(ours, weights, allow_unused=True, materialize_grads=True)
    ref_grads = torch.autograd.grad(ref, weights, allow_unused=True, materialize_grads=True)
    for mine, theirs in zip(ours_grads, ref_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=rtol, atol=rtol * theirs.abs().max().item())
    assert sum(g.abs().sum() for g in ours_grads) > 0  # the penalty trains D's weights


@pytest.mark.parametrize("name", PLUGINS)
def test_penalties_match_plain_autograd_through_a_small_d(name):
    real, fake = _batches((2, 3, 3), 9, 9)
    _check_against_reference(name, _small_d(), real, fake, rtol=1e-10)


@pytest.mark.parametrize("name", PLUGINS)
def test_penalties_match_plain_autograd_through_dcgans_d_in_float64(name):
    real, fake = _batches((3, 16, 16), 6, 6)
    _check_against_reference(name, _dcgan_d(), real, fake, rtol=1e-6)


def test_r1_and_r2_look_at_their_own_side():
    d = _small_d()
    real, fake = _batches((2, 3, 3), 5, 5)
    rng = torch.Generator()
    r1 = R1().penalty(PenaltyInputs(d, real, fake, rng))
    assert torch.equal(r1, R1().penalty(PenaltyInputs(d, real, fake * 3 + 1, rng)))  # fakes do not matter
    assert torch.equal(R2().penalty(PenaltyInputs(d, fake, real, rng)), r1)          # R2 on fakes = R1 on reals


def test_the_gradient_penalty_repeats_for_a_seeded_generator_and_draws_one_eps_per_pair():
    d = _small_d()
    real, fake = _batches((2, 3, 3), 8, 8)
    gp = GradientPenalty()
    rng = torch.Generator().manual_seed(SEED)
    first = gp.penalty(PenaltyInputs(d, real, fake, rng))
    second = gp.penalty(PenaltyInputs(d, real, fake, rng))  # the generator moved on: new eps
    again = gp.penalty(PenaltyInputs(d, real, fake, torch.Generator().manual_seed(SEED)))
    assert torch.equal(first, again) and not torch.equal(first, second)
    expected = torch.Generator().manual_seed(SEED)
    torch.rand(16, generator=expected, dtype=torch.float64)  # two calls, 8 draws each
    assert torch.equal(rng.get_state(), expected.get_state())


def test_the_gradient_penalty_pairs_the_first_samples_of_unequal_batches():
    d = _small_d()
    real, fake = _batches((2, 3, 3), 5, 8)  # a short real batch meets a full generated one
    _check_against_reference("gradient-penalty", d, real, fake, rtol=1e-10)
    _check_against_reference("gradient-penalty", d, fake, real, rtol=1e-10)


def test_the_gradient_penalty_is_zero_for_a_unit_slope_critic():
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1, bias=False), torch.nn.Flatten(0))
    with torch.no_grad():
        d[1].weight.copy_(torch.tensor([[0.6, 0.0, 0.8, 0.0]]))  # ||grad|| = 1 everywhere
    real, fake = torch.randn(6, 4), torch.randn(6, 4)
    value = GradientPenalty().penalty(PenaltyInputs(d, real, fake, torch.Generator().manual_seed(0)))
    assert value.item() == pytest.approx(0.0, abs=1e-12)
    with torch.no_grad():
        d[1].weight.mul_(3.0)  # ||grad|| = 3: (3 - 1)^2
    value = GradientPenalty().penalty(PenaltyInputs(d, real, fake, torch.Generator().manual_seed(0)))
    assert value.item() == pytest.approx(4.0, rel=1e-6)


def test_half_precision_fakes_are_penalised_in_float32():
    d = _small_d().float()
    real = torch.randn(4, 2, 3, 3)
    fake = torch.randn(4, 2, 3, 3).bfloat16()  # what G gives under bfloat16 autocast
    for reg in (R2(), GradientPenalty()):
        value = reg.penalty(PenaltyInputs(d, real, fake, torch.Generator().manual_seed(0)))
        assert value.dtype == torch.float32 and math.isfinite(value.item()) and value.item() > 0


def test_defaults_and_targets():
    for reg in PLUGINS.values():
        assert isinstance(reg, Regulariser) and reg.target == "discriminator"
        assert (reg.default_weight, reg.default_every) == (10.0, 1)
    assert "r1" in R2.description  # says its defaults are R1's
    assert "wasserstein" in GradientPenalty.description


@pytest.mark.parametrize(("name", "cls"), [("r2", R2), ("gradient-penalty", GradientPenalty), ("r1", R1)])
def test_each_regulariser_is_found_by_its_entry_point_name(name, cls):
    plugins.refresh()
    assert plugins.discover(plugins.REGULARISERS)[name].distribution == "pygan"
    assert isinstance(plugins.get_regulariser(name), cls)


def _rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("loss", "regs"), [("wasserstein", ["gradient-penalty:10:1"]),
                                           ("relativistic", ["r1:10:1", "r2:5:2"])])
def test_a_short_training_logs_each_penalty(loss, regs, tmp_path):
    out = tmp_path / "run"
    assert Trainer(ring_config(out, loss=loss, regularisers=regs, epochs=1)).fit()["steps"] == 8
    rows = [r for r in _rows(out) if "loss_d" in r]
    assert [r["step"] for r in rows] == list(range(1, 9))  # a row after every D step
    for row in rows:
        assert all(math.isfinite(row[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake")), row
        for text in regs:
            name, _, every = text.split(":")
            # computed on D steps 0, k, 2k, ... (before each step's count goes up): rows 1, k + 1, ...
            if (row["step"] - 1) % int(every) == 0:
                assert math.isfinite(row[f"penalty_{name}"]) and row[f"penalty_{name}"] > 0, row
            else:
                assert f"penalty_{name}" not in row, row
    config = (out / "config.toml").read_text()
    assert all(f'"{text}"' in config for text in regs)  # recorded as name:weight:every


def test_the_step_penalises_packed_images_and_a_short_real_batch(tiny_images, tmp_path):
    config = image_config(tiny_images, tmp_path / "run", loss="wasserstein", pack=2,
                          regularisers=["gradient-penalty", "r1:1:1", "r2:1:1"])
    gan = GanStep(resolve(config))
    gan.train_step(torch.rand(8, 3, 16, 16) * 2 - 1)
    gan.train_step(torch.rand(4, 3, 16, 16) * 2 - 1)  # a short last batch: 2 packed reals meet 4 packed fakes
    means = gan.log.read()
    for name in ("gradient-penalty", "r1", "r2"):
        assert math.isfinite(means[f"penalty_{name}"]) and means[f"penalty_{name}"] > 0, means
