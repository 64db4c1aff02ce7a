"""The original fully connected GAN (Goodfellow et al., 2014), for vectors and small images:
ReLU hidden layers in G, LeakyReLU (pygan's fused op, bias included) in D, logits out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

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
        blocks: list[nn.Module] = []
        width_in = latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width_in, hidden), nn.ReLU(inplace=True)]
            width_in = hidden
        blocks.append(nn.Linear(width_in, spec.numel))
        if spec.value_range is not None:
            blocks.append(nn.Tanh())  # mapped onto the value range in forward
        self.net = nn.Sequential(*blocks)
        self.value_range = spec.value_range

    def forward(self, z):
        out = self.net(z.flatten(1))
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

    def forward(self, x):
        return self.net(x.flatten(1)).flatten()


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
