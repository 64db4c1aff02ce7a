"""The dcgan architecture plugin: shapes, the published recipe, and what it refuses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pygan import plugins
from pygan.ops import BatchNormLeakyReLU, FusedLeakyReLU
from pygan.plugins import DataSpec


@pytest.fixture(scope="module")
def dcgan():
    return plugins.get_architecture("dcgan")


def build(dcgan, channels, size, **given):
    options = plugins.resolve_options("dcgan", dcgan.options, {"ngf": 8, "ndf": 8, **given})
    return dcgan.build(DataSpec((channels, size, size)), options), options


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(dcgan, size, channels):
    models, options = build(dcgan, channels, size)
    z = dcgan.sample_latent(5, DataSpec((channels, size, size)), options)
    assert z.shape == (5, 100)
    images = models.generator(z)
    assert images.shape == (5, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    logits = models.discriminator(images)
    assert logits.shape == (5,)  # one logit per image


@pytest.mark.parametrize("size", [16, 256])
def test_extreme_sizes(dcgan, size):
    models, options = build(dcgan, 3, size, ngf=4, ndf=4)
    z = dcgan.sample_latent(2, DataSpec((3, size, size)), options)
    assert models.discriminator(models.generator(z)).shape == (2,)


def test_published_recipe(dcgan):
    models, _ = build(dcgan, 3, 64, ngf=64, ndf=64)
    g, d = models.generator, models.discriminator
    g_layers, d_layers = list(g.modules()), list(d.modules())
    assert not any(isinstance(m, (nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.Sigmoid)) for m in g_layers + d_layers)
    assert isinstance(g_layers[-1], nn.Tanh)
    # BatchNorm + ReLU (slope 0) after every transposed conv but the last.
    g_blocks = [m for m in g_layers if isinstance(m, BatchNormLeakyReLU)]
    assert len(g_blocks) == 4 and all(m.negative_slope == 0.0 for m in g_blocks)
    # G: 100 -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> 3x64x64, as in the paper's figure.
    widths = [m.out_channels for m in g_layers if isinstance(m, nn.ConvTranspose2d)]
    assert widths == [512, 256, 128, 64, 3]
    acts = [m for m in d_layers if isinstance(m, (FusedLeakyReLU, BatchNormLeakyReLU))]
    assert len(acts) == 4 and all(a.negative_slope == 0.2 for a in acts)
    convs = [m for m in d_layers if isinstance(m, nn.Conv2d)]
    assert all(m.stride in ((2, 2), (1, 1)) for m in convs)
    # No BatchNorm on D's input layer, BatchNorm after every later conv but the last.
    assert [type(m).__name__ for m in d.net][:2] == ["Conv2d", "FusedLeakyReLU"]
    assert sum(isinstance(m, BatchNormLeakyReLU) for m in d_layers) == 3
    bn_weights = torch.cat([m.weight for m in g_layers + d_layers if isinstance(m, nn.modules.batchnorm._BatchNorm)])
    assert abs(bn_weights.mean().item() - 1.0) < 5e-3 and abs(bn_weights.std().item() - 0.02) < 5e-3
    conv_weights = torch.cat([m.weight.flatten() for m in g_layers + d_layers
                              if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(conv_weights.mean().item()) < 1e-3 and abs(conv_weights.std().item() - 0.02) < 1e-3
    assert dcgan.optimizer.lr == 2e-4 and dcgan.optimizer.betas == (0.5, 0.999)


def test_refuses_data_it_cannot_model(dcgan):
    assert "try --arch mlp" in dcgan.accepts(DataSpec((2,), None))
    assert "power-of-two" in dcgan.accepts(DataSpec((3, 48, 48)))
    assert "power-of-two" in dcgan.accepts(DataSpec((3, 512, 512)))
    assert "power-of-two" in dcgan.accepts(DataSpec((3, 32, 64)))
    assert dcgan.accepts(DataSpec((3, 64, 64))) is None
