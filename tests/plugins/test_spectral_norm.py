"""--arch-option spectral-norm=true: SNGAN's discriminator for dcgan and mlp (every layer spectrally
normalised, no BatchNorm in D), trained, resumed exactly, and differentiated twice (R1)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pygan import plugins
from pygan.training import Config, Trainer
from tests.training.conftest import image_config, ring_config


def _build(arch: str, spec: plugins.DataSpec, **options):
    plugin = plugins.get_architecture(arch)
    torch.manual_seed(0)
    return plugin.build(spec, plugins.resolve_options(arch, plugin.options, options))


def _weighted(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]


@pytest.mark.parametrize(("arch", "shape"), [("dcgan", (3, 32, 32)), ("mlp", (2,))])
def test_every_d_layer_is_spectrally_normalised_and_g_is_unchanged(arch, shape):
    spec = plugins.DataSpec(shape, (-1.0, 1.0) if len(shape) == 3 else None)
    plain, sn = _build(arch, spec), _build(arch, spec, **{"spectral-norm": True})
    layers = _weighted(sn.discriminator)
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) or type(m).__name__ == "BatchNormLeakyReLU"
                   for m in sn.discriminator.modules())
    g_a, g_b = plain.generator.state_dict(), sn.generator.state_dict()
    assert g_a.keys() == g_b.keys() and all(g_a[k].shape == g_b[k].shape for k in g_a)  # the same G
    x = torch.rand(8, *shape) * 2 - 1
    sn.discriminator.train()
    for _ in range(30):  # each forward runs one power iteration; sigma estimates converge
        sn.discriminator(x)
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, rel=0.05), (m, sigma)


def test_dcgan_without_spectral_norm_keeps_batch_norm_in_d():
    models = _build("dcgan", plugins.DataSpec((1, 32, 32), (-1.0, 1.0)))
    assert any(type(m).__name__ == "BatchNormLeakyReLU" for m in models.discriminator.modules())
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in _weighted(models.discriminator))


def _d_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.discriminator.state_dict().items()}


def test_spectral_norm_mlp_run_resumes_exactly_with_r1(tmp_path):
    def config(out, **train):
        c = ring_config(out, epochs=2, regularisers=["r1:1:2"], **train)
        c.model.options = {**c.model.options, "spectral-norm": True}
        return c

    whole = Trainer(config(tmp_path / "whole"))
    whole.fit()
    Trainer(config(tmp_path / "split", max_steps=5)).fit()
    resumed = Trainer(Config(), resume_from=tmp_path / "split", overrides={("train", "max_steps"): 0})
    resumed.fit()
    a, b = _d_state(whole), _d_state(resumed)
    assert any(k.endswith("_u") for k in a)  # the power iteration's vectors are part of the state
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.isfinite(v).all() for v in a.values())


def test_spectral_norm_dcgan_trains_with_channels_last(tiny_images, tmp_path):
    config = image_config(tiny_images, tmp_path / "run", regularisers=["r1:1:1"])
    config.model.options = {**config.model.options, "spectral-norm": True}
    trainer = Trainer(config)
    summary = trainer.fit()
    assert summary["steps"] >= 1 and summary["channels_last"]
    assert all(torch.isfinite(p).all() for p in trainer.discriminator.parameters())
