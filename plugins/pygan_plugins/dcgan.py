"""DCGAN (Radford et al., 2016) as published: strided (transposed) convolutions and no pooling,
BatchNorm in both nets (not on G's output nor D's input), ReLU + Tanh in G, LeakyReLU(0.2) in D,
no fully connected hidden layers, weights from N(0, 0.02), Adam lr 2e-4, beta1 0.5.

G's BatchNorm + ReLU and D's blocks are pygan's fused ops (bias + LeakyReLU, BatchNorm + LeakyReLU), and D returns
logits for the fused losses (no Sigmoid layer). The convolutions are pygan.ops' Conv2d / ConvTranspose2d: torch's,
with pygan's weight gradient on CPUs where that is faster (pygan.ops.conv). Any power-of-two image size from 16 to
256, any channel count.

On labelled data it is class-conditional: G's BatchNorms become conditional BatchNorms (a scale and a
shift per class, over the fused normalisation), and D adds the projection term <embed(y), h> of its
last 4x4 features to its logit (Miyato & Koyama 2018), as SNGAN's conditional nets do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from torch import nn

from pygan.conditional import ConditionalBatchNormLeakyReLU, ProjectionHead
from pygan.ops import BatchNormLeakyReLU, Conv2d, ConvTranspose2d, FusedLeakyReLU
from pygan.plugins import AdamSettings, Architecture, DataSpec, GanModels, Option
from pygan_plugins.spectral import apply_spectral_norm

MIN_SIZE, MAX_SIZE = 16, 256
MAX_WIDTH_MULTIPLIER = 8  # widths double per layer up to 8x ngf/ndf, as in the paper's 64 px nets
# The widest ngf/ndf accepted. At 1024 a 256 px G and D have 2.9 B parameters each, about 92 GB with
# their gradients and Adam's state (16 bytes a parameter): what one large GPU holds. At 4096 a 64 px G
# alone has 11 B parameters, and ngf=100000 would ask for terabytes.
MAX_WIDTH = 1024
MAX_LATENT = 4096


def _widths(base: int, size: int) -> list[int]:
    """Channel widths from the 4x4 layer out to size/2: [.., 4*base, 2*base, base]."""
    layers = int(math.log2(size)) - 2  # stride-2 layers between 4x4 and size x size
    return [base * min(2 ** (layers - 1 - i), MAX_WIDTH_MULTIPLIER) for i in range(layers)]


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    def __init__(self, latent_dim: int, channels: int, size: int, ngf: int, num_classes: int = 0) -> None:
        super().__init__()
        widths = _widths(ngf, size)

        def norm(width: int) -> nn.Module:
            # BatchNorm + ReLU as one fused op (ReLU = LeakyReLU with slope 0); per class when labelled.
            if num_classes:
                return ConditionalBatchNormLeakyReLU(width, num_classes, negative_slope=0.0)
            return BatchNormLeakyReLU(width, negative_slope=0.0)

        layers: list[nn.Module] = [
            ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),  # z -> 4x4
            norm(widths[0]),
        ]
        for w_in, w_out in pairwise(widths):
            layers += [ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), norm(w_out)]
        layers += [ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.num_classes = num_classes

    def forward(self, z, labels=None):
        x = z.view(z.shape[0], -1, 1, 1)
        if not self.num_classes:
            return self.net(x)
        for layer in self.net:
            x = layer(x, labels) if isinstance(layer, ConditionalBatchNormLeakyReLU) else layer(x)
        return x


class Discriminator(nn.Module):
    def __init__(self, channels: int, size: int, ndf: int, batch_norm: bool = True, num_classes: int = 0) -> None:
        super().__init__()
        widths = _widths(ndf, size)[::-1]  # ndf, 2*ndf, ... at sizes size/2, size/4, ..., 4
        # First layer: no BatchNorm (the paper); the fused activation carries the bias.
        layers: list[nn.Module] = [Conv2d(channels, widths[0], 4, 2, 1, bias=False),
                                   FusedLeakyReLU(widths[0], bias=True, negative_slope=0.2)]
        for w_in, w_out in pairwise(widths):
            # BatchNorm and LeakyReLU in one fused op; BatchNorm's shift is the bias. Without BatchNorm
            # (spectral norm, as SNGAN's D), the fused bias + LeakyReLU.
            act = (BatchNormLeakyReLU(w_out, negative_slope=0.2) if batch_norm
                   else FusedLeakyReLU(w_out, bias=True, negative_slope=0.2))
            layers += [Conv2d(w_in, w_out, 4, 2, 1, bias=False), act]
        layers += [Conv2d(widths[-1], 1, 4, 1, 0, bias=not batch_norm)]  # 4x4 -> one logit
        self.net = nn.Sequential(*layers)
        self.projection = ProjectionHead(num_classes, widths[-1] * 16) if num_classes else None

    def forward(self, x, labels=None):
        if self.projection is None:
            return self.net(x).flatten()
        h = self.net[:-1](x)  # the last 4x4 features
        return self.net[-1](h).flatten() + self.projection(h, labels)


class DCGAN(Architecture):
    description = "DCGAN (Radford et al. 2016): strided convs, BatchNorm, ReLU/Tanh G, LeakyReLU(0.2) D"
    options = (
        Option("latent-dim", int, 100, "size of z", min=1, max=MAX_LATENT),
        Option("ngf", int, 64, "generator width (channels of its last hidden layer)", min=1, max=MAX_WIDTH),
        Option("ndf", int, 64, "discriminator width (channels of its first layer)", min=1, max=MAX_WIDTH),
        Option("spectral-norm", bool, False, "spectral normalisation of every D layer, without BatchNorm in D "
                                             "(SNGAN); G unchanged"),
    )
    optimizer = AdamSettings(lr=2e-4, betas=(0.5, 0.999))
    # Samples come from a moving average of G (half-life ~140 steps): a run's last grid is not at the
    # mercy of its last few steps (a late spike of D's loss blotches the raw G's samples). Training
    # itself is unchanged: the average is only sampled.
    ema_decay = 0.995
    conditional = True

    def accepts(self, spec: DataSpec) -> str | None:
        if not spec.is_image:
            return f"dcgan models images (C, H, W); this data is {spec.describe()}: try --arch mlp"
        _, h, w = spec.shape
        if h != w or h < MIN_SIZE or h > MAX_SIZE or h & (h - 1):
            return (f"dcgan needs square images with a power-of-two size from {MIN_SIZE} to {MAX_SIZE}, "
                    f"got {h}x{w}; set --image-size to one of 16, 32, 64, 128, 256")
        if spec.value_range != (-1.0, 1.0):
            return f"dcgan's Tanh output lies in [-1, 1], but this data is {spec.describe()}"
        return None

    def latent_shape(self, spec: DataSpec, options: Mapping[str, Any]) -> tuple[int, ...]:
        return (int(options["latent_dim"]),)

    def build(self, spec: DataSpec, options: Mapping[str, Any]) -> GanModels:
        channels, size, _ = spec.shape
        g = Generator(int(options["latent_dim"]), channels, size, int(options["ngf"]), spec.num_classes)
        spectral = bool(options.get("spectral_norm", False))
        d = Discriminator(channels, size, int(options["ndf"]), batch_norm=not spectral, num_classes=spec.num_classes)
        g.apply(_init_weights)
        d.apply(_init_weights)
        if spectral:
            apply_spectral_norm(d)
        return GanModels(g, d)
