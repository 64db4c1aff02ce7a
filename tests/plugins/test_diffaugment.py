"""The diffaugment plugin: DiffAugment's parameter ranges, p per sample and transform, ADA's
update of p, the `--augment color,translation,cutout` shorthand, and runs that train, log p and
resume bit-exactly."""

from __future__ import annotations

import json

import pytest
import torch
from pygan_plugins.diffaugment import draw_parameters
from typer.testing import CliRunner

from pygan import plugins
from pygan.augmentations import adaptive_strength, expand_shorthand
from pygan.cli import app
from pygan.plugins import PluginError
from pygan.training import Config, Trainer, resolve
from tests.training.conftest import image_config, ring_config

POLICY = ("color", "translation", "cutout")


def _options(**given):
    aug = plugins.get_augmentation("diffaugment")
    return aug, plugins.resolve_options("diffaugment", aug.options, given)


def test_parameters_lie_in_diffaugments_ranges():
    color, geometry, gates = draw_parameters(torch.Size((4000, 3, 32, 32)), POLICY, 0.125, 0.5,
                                             torch.Generator().manual_seed(0))
    b, s, k = color.unbind(1)
    assert -0.5 <= b.min() < -0.49 and 0.49 < b.max() <= 0.5
    assert 0 <= s.min() < 0.01 and 1.99 < s.max() <= 2 and 0.5 <= k.min() < 0.51 and 1.49 < k.max() <= 1.5
    dy, dx, y0, y1, x0, x1 = geometry.unbind(1)
    assert set(dy.tolist()) == set(range(-4, 5)) == set(dx.tolist())  # shift up to 32 / 8, both ends
    assert ((y1 - y0) == 16).all() and ((x1 - x0) == 16).all()  # a square of half the side
    assert y0.min() == -8 and y0.max() == 24  # its centre anywhere in 0 .. 32, as DiffAugment draws it
    assert gates.shape == (4000, 5) and 0 <= gates.min() and gates.max() < 1


def test_transforms_outside_the_policy_are_never_applied_and_p_gates_each_sample():
    aug, options = _options(policy="translation", p=0.5)
    x = torch.randn(2000, 1, 8, 8)
    out = aug.apply(x, torch.tensor(0.5), torch.Generator().manual_seed(1), options)
    changed = (out != x).flatten(1).any(1).float().mean()
    assert 0.35 < changed < 0.5  # p = 0.5, and a shift of (0, 0) (1 in 81 draws at 8 px) changes nothing
    assert torch.isin(out[out != 0], x).all()  # values are moved, never recoloured
    none = aug.apply(x, torch.tensor(0.0), torch.Generator().manual_seed(1), options)
    assert torch.equal(none, x)


def test_the_same_generator_state_gives_the_same_augmentation():
    aug, options = _options()
    x = torch.randn(8, 3, 16, 16)
    a = aug.apply(x, torch.tensor(1.0), torch.Generator().manual_seed(3), options)
    b = aug.apply(x, torch.tensor(1.0), torch.Generator().manual_seed(3), options)
    assert torch.equal(a, b) and not torch.equal(a, x)


def test_ada_raises_p_while_d_is_overconfident_on_reals_and_lowers_it_otherwise():
    p = torch.tensor(0.5)
    up = adaptive_strength(p, torch.full((64,), 3.0), target=0.6, ramp_images=6400)  # r = 1 > 0.6
    down = adaptive_strength(p, torch.cat((torch.ones(32), -torch.ones(32))), 0.6, 6400)  # r = 0
    assert up.item() == pytest.approx(0.51) and down.item() == pytest.approx(0.49)
    assert adaptive_strength(torch.tensor(1.0), torch.ones(64), 0.6, 1).item() == 1.0  # clamped
    assert adaptive_strength(torch.tensor(0.0), -torch.ones(64), 0.6, 1).item() == 0.0
    aug, options = _options(adaptive=True, p=0.5, ramp_images=6400)
    assert aug.adjust(p, torch.full((64,), 3.0), options).item() == pytest.approx(0.51)
    _, fixed = _options(p=0.5)
    assert aug.adjust(p, torch.full((64,), 3.0), fixed) is p


def test_the_shorthand_names_diffaugment_with_that_policy():
    assert expand_shorthand("color,translation", {"p": "0.3"}) == ("diffaugment", {"policy": "color,translation",
                                                                                   "p": "0.3"})
    assert expand_shorthand("flip", {"p": 1}) == ("flip", {"p": 1})
    with pytest.raises(PluginError, match="already names the policy"):
        expand_shorthand("cutout", {"policy": "color"})


def test_bad_options_are_refused_before_training(tiny_images, tmp_path):
    with pytest.raises(PluginError, match="option 'policy' is a comma-separated list"):
        resolve(image_config(tiny_images, tmp_path / "a", augment="diffaugment",
                             augment_options={"policy": "color,rotate"}))
    with pytest.raises(PluginError, match="'p'"):
        resolve(image_config(tiny_images, tmp_path / "b", augment="color", augment_options={"p": 1.5}))
    with pytest.raises(Exception, match="cannot augment --plugin ring8"):
        resolve(ring_config(tmp_path / "c", augment="color,cutout"))


@pytest.mark.parametrize("loss", ["wasserstein", "least-squares", "relativistic"])
def test_adaptive_p_is_refused_under_losses_without_a_zero_decision_boundary(tiny_images, tmp_path, loss):
    # ADA reads sign(D(x)); a critic's or LSGAN's outputs carry no such sign, so p would drift
    with pytest.raises(Exception, match=f"cannot adapt under --loss {loss}: .*give a fixed --augment-p"):
        resolve(image_config(tiny_images, tmp_path / "a", loss=loss, augment="color",
                             augment_options={"adaptive": True, "p": 0.0}))
    fixed = resolve(image_config(tiny_images, tmp_path / "b", loss=loss, augment="color",
                                 augment_options={"p": 0.5}))
    assert fixed.train.augment == "diffaugment" and fixed.train.loss == loss
    hinge = resolve(image_config(tiny_images, tmp_path / "c", loss="hinge", augment="color",
                                 augment_options={"adaptive": True, "p": 0.0}))
    assert hinge.train.augment_options["adaptive"] is True


def test_a_run_augments_logs_adaptive_p_and_resumes_bit_exactly(tiny_images, tmp_path):
    extra = dict(epochs=3, augment="color,translation,cutout",
                 augment_options={"adaptive": True, "p": 0.2, "ramp_images": 40})
    whole = Trainer(image_config(tiny_images, tmp_path / "whole", **extra))
    whole.fit()
    rows = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    ps = [r["augment_p"] for r in rows if "augment_p" in r]
    assert len(ps) == 6 and len(set(ps)) > 1 and all(0.0 <= p <= 1.0 for p in ps)  # it moved, by 0.1 a D step
    assert all(abs(round(p * 10) - p * 10) < 1e-4 for p in ps)
    run = resolve(image_config(tiny_images, tmp_path / "x", **extra))
    assert run.train.augment == "diffaugment" and run.train.augment_options["policy"] == "color,translation,cutout"
    first = Trainer(image_config(tiny_images, tmp_path / "split", max_steps=3, **extra))
    first.fit()
    resumed = Trainer(Config(), resume_from=tmp_path / "split", overrides={("train", "max_steps"): 0})
    resumed.fit()
    assert resumed.gan.augment_strength.item() == whole.gan.augment_strength.item()
    for a, b in ((whole.generator, resumed.generator), (whole.discriminator, resumed.discriminator)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_the_cli_takes_the_policy_and_augment_p(tiny_images, tmp_path):
    base = ["train", "--arch", "dcgan", "--plugin", "image-folder", "--data-dir", str(tiny_images),
            "--image-size", "16", "--arch-option", "ngf=4", "--arch-option", "ndf=4", "--batch-size", "4",
            "--max-steps", "2", "--quiet"]
    result = CliRunner().invoke(app, [*base, "--augment", "color,cutout", "--augment-p", "adaptive",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    saved = (tmp_path / "run" / "config.toml").read_text()
    assert 'augment = "diffaugment"' in saved and 'policy = "color,cutout"' in saved and "adaptive = true" in saved
    result = CliRunner().invoke(app, [*base, "--augment", "color", "--augment-p", "0.3", "--augment-option", "p=0.4",
                                      "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "not both" in result.output
