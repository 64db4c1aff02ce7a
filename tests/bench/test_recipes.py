"""The named recipes of `pygan bench quality --recipe`: each sets the trainer's config as its flags
say, each trains, and an unknown name is refused."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from pygan.bench import recipes
from pygan.cli import app
from pygan.training import Config


def test_every_recipe_sets_the_config_its_flags_describe():
    hinge_sn = recipes.get("hinge-sn")
    config = Config()
    hinge_sn.apply(config)
    assert config.train.loss == "hinge" and config.model.options == {"spectral_norm": True}
    assert hinge_sn.flags() == "--loss hinge --arch-option spectral-norm=true"
    wgan = recipes.get("wgan-gp")
    wgan.apply(config)
    assert (config.train.loss, config.train.regularisers, config.train.d_steps) == \
        ("wasserstein", ["gradient-penalty:10"], 5)
    assert (config.train.lr, config.train.beta1, config.train.beta2) == (1e-4, 0.0, 0.9)
    assert wgan.flags() == "--loss wasserstein --reg gradient-penalty:10 --d-steps 5 --lr 0.0001 --beta1 0 --beta2 0.9"
    conditional = recipes.get("conditional")
    conditional.apply(config)
    assert config.data.options == {"labels": "modes"} and config.train.ema == 0.999
    assert conditional.flags() == "--loss non-saturating --option labels=modes --ema 0.999"


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_every_recipe_trains_through_pygan_train_with_its_flags(tmp_path, name):
    flags = shlex.split(recipes.get(name).flags())
    result = CliRunner().invoke(app, ["train", "--arch", "mlp", "--plugin", "ring8", "--max-steps", "6",
                                      "--quiet", "-o", "size=640", "--out", str(tmp_path / name), *flags])
    assert result.exit_code == 0, result.output
    config = (tmp_path / name / "config.toml").read_text()
    assert f'loss = "{recipes.get(name).loss}"' in config


def test_an_unknown_recipe_is_refused_before_training():
    with pytest.raises(ValueError, match="--recipe must be one of non-saturating, hinge"):
        recipes.get("focal")
    result = CliRunner().invoke(app, ["bench", "quality", "--recipe", "focal", "--seeds", "1"])
    assert result.exit_code == 2 and "must be one of" in result.output


def test_quality_command_logs_every_run_as_it_ends_and_survives_an_infinite_reverse_kl(tmp_path, monkeypatch):
    import json

    from pygan.bench import quality

    def fake_run(dataset, recipe, pack, seed, epochs):
        return {"modes_covered": 8 - seed, "modes_total": 8, "high_quality": 0.9,
                "reverse_kl": float("inf") if recipe == "wgan-gp" and seed == 1 else 0.1}

    monkeypatch.setattr(quality, "_one_run", fake_run)
    out = tmp_path / "q.json"
    result = CliRunner().invoke(app, ["bench", "quality", "--dataset", "ring8", "--pack", "1", "--seeds", "2",
                                      "--recipe", "hinge", "--recipe", "wgan-gp", "--json", str(out)])
    assert result.exit_code == 0, result.output
    runs = [json.loads(line) for line in (tmp_path / "q.json.runs.jsonl").read_text().splitlines()]
    assert [(r["recipe"], r["seed"]) for r in runs] == [("hinge", 0), ("hinge", 1), ("wgan-gp", 0), ("wgan-gp", 1)]
    summary = {r["recipe"]: r for r in json.loads(out.read_text())["results"]}
    assert summary["hinge"]["modes_covered"][0] == 7.5
    assert summary["wgan-gp"]["reverse_kl"][0] == float("inf")
