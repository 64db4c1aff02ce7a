"""The original fully connected GAN (Goodfellow et al., 2014), for vectors and small images:
ReLU hidden layers in G, LeakyReLU (pygan's fused op, bias included) in D, logits out.

On labelled data it is class-conditional: G takes z joined with the one-hot label (the cGAN of
Mirza & Osindero 2014); D sees the label twice, as a per-class bias of its first layer (the same as
joining the one-hot label to its input) and as the projection term <embed(y), h> of its last hidden
features added to its logit (Miyato & Koyama 2018)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from pygan.conditional import ClassBias, ProjectionHead, one_hot
from pygan.ops import FusedLeakyReLU
from pygan.plugins import AdamSettings, Architecture, DataSpec, GanModels, Option
from pygan_plugins.spectral import apply_spectral_norm

MAX_FEATURES = 64 * 64 * 3
AUTO_LATENT_MAX = 16
MAX_LATENT = 4096
MAX_HIDDEN = 16384  # one 16384 x 16384 layer is 1 GiB of float32 weights
MAX_LAYERS = 64


class Generator(nn.Module):
    def __init__(self, latent_dim: int, spec: DataSpec, hidden: int, layers: int) -> None:
        super().__init__()
        self.shape = spec.shape
        self.num_classes = spec.num_classes
        blocks: list[nn.Module] = []
        width_in = latent_dim + self.num_classes
        for _ in range(layers):
            blocks += [nn.Linear(width_in, hidden), nn.ReLU(inplace=True)]
            width_in = hidden
        blocks.append(nn.Linear(width_in, spec.numel))
        if spec.value_range is not None:
            blocks.append(nn.Tanh())  # mapped onto the value range in forward
        self.net = nn.Sequential(*blocks)
        self.value_range = spec.value_range

    def forward(self, z, labels=None):
        z = z.flatten(1)
        if self.num_classes:
            z = torch.cat([z, one_hot(labels, self.num_classes, z.dtype)], 1)
        out = self.net(z)
        if self.value_range is not None:
            low, high = self.value_range
            out = low + (out + 1) * (high - low) / 2
        return out.view(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    def __init__(self, spec: DataSpec, hidden: int, layers: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width_in = spec.numel
        for _ in range(layers):
            blocks += [nn.Linear(width_in, hidden, bias=False), FusedLeakyReLU(hidden, negative_slope=0.2)]
            width_in = hidden
        blocks.append(nn.Linear(width_in, 1))
        self.net = nn.Sequential(*blocks)
        self.projection = ProjectionHead(spec.num_classes, width_in) if spec.num_classes else None
        # Projection alone shares D's features between classes, and on ring8 they stayed nearly
        # linear in the radius: in 3 of 10 seeds D went flat around a class whose samples sat 3-9
        # std off its mode. A per-class first-layer bias lets each class bend D where it lies.
        # Initialised at the scale of the first layer's weights, so a class moves D's kinks as far
        # as x does (at a one-hot input column's scale, He over the widened input, seed 7 kept one
        # class at 94.6% on its mode; at this scale seeds 6 and 7 kept every class at >= 98.1%).
        self.class_bias = (ClassBias(spec.num_classes, hidden, std=_he_std(spec.numel))
                           if spec.num_classes else None)

    def forward(self, x, labels=None):
        if self.projection is None:
            return self.net(x.flatten(1)).flatten()
        first = self.net[0](x.flatten(1))
        h = self.net[1:-1](first + self.class_bias(labels, first.dtype))
        return self.net[-1](h).flatten() + self.projection(h, labels)


def _he_std(fan_in: int) -> float:
    """kaiming_normal_'s std for LeakyReLU(0.2), as build() initialises every Linear."""
    return nn.init.calculate_gain("leaky_relu", 0.2) / fan_in ** 0.5


class MLPGAN(Architecture):
    description = "fully connected GAN (Goodfellow et al. 2014) for vectors and small images"
    options = (
        Option("latent-dim", int, 0, "size of z; 0 = auto: the data's own size up to 16 values "
                                     "(2 for 2-D points), else 100", min=0, max=MAX_LATENT),
        Option("hidden", int, 256, "units per hidden layer", min=1, max=MAX_HIDDEN),
        Option("layers", int, 3, "hidden layers in G and in D", min=1, max=MAX_LAYERS),
        Option("spectral-norm", bool, False, "spectral normalisation of every D layer (SNGAN); G unchanged"),
    )
    # The lr falls to 0 over the second half of the run: on the 2-D mixtures the late small steps
    # pull G's samples onto the modes (a 20,000-step grid25 trial with --pack 2: 42% -> 63% of the
    # samples high-quality; ring8: 91% -> 96%).
    optimizer = AdamSettings(lr=2e-4, betas=(0.5, 0.999), lr_decay=0.5)
    conditional = True

    def accepts(self, spec: DataSpec) -> str | None:
        if spec.numel > MAX_FEATURES:
            return (f"mlp is for vectors and small images (at most {MAX_FEATURES} values), "
                    f"got {spec.describe()}: try --arch dcgan")
        return None

    def latent_shape(self, spec: DataSpec, options: Mapping[str, Any]) -> tuple[int, ...]:
        # Low-dimensional data wants an equally small z: on ring8 a 16-dim z collapsed to one mode
        # in every seed tried, a 2-dim z covered all eight.
        chosen = int(options["latent_dim"])
        return (chosen if chosen > 0 else spec.numel if spec.numel <= AUTO_LATENT_MAX else 100,)

    def build(self, spec: DataSpec, options: Mapping[str, Any]) -> GanModels:
        hidden, layers = int(options["hidden"]), int(options["layers"])
        if hidden < 1 or layers < 1:
            raise ValueError(f"mlp: hidden and layers must be >= 1, got hidden={hidden}, layers={layers}")
        g = Generator(self.latent_shape(spec, options)[0], spec, hidden, layers)
        d = Discriminator(spec, hidden, layers)
        for m in [*g.modules(), *d.modules()]:
            if isinstance(m, nn.Linear):  # He init for ReLU-family nets
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if options.get("spectral_norm", False):
            apply_spectral_norm(d)
        return GanModels(g, d)
