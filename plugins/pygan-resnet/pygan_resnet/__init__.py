"""A small residual GAN as a pygan architecture plugin (the third-party example).

Class-conditional on labelled data, as SNGAN's conditional nets: G's BatchNorms become
pygan.conditional.ConditionalBatchNormLeakyReLU (a scale and shift per class), D adds the
projection term <embed(y), h> of its pooled features (pygan.conditional.ProjectionHead)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from pygan.conditional import ConditionalBatchNormLeakyReLU, ProjectionHead
from pygan.ops import fused_leaky_relu
from pygan.plugins import AdamSettings, Architecture, DataSpec, GanModels, Option


class UpBlock(nn.Module):
    def __init__(self, ch_in: int, ch_out: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        if num_classes:  # BatchNorm + ReLU with a scale and shift per class
            self.bn1 = ConditionalBatchNormLeakyReLU(ch_in, num_classes)
            self.bn2 = ConditionalBatchNormLeakyReLU(ch_out, num_classes)
        else:
            self.bn1, self.bn2 = nn.BatchNorm2d(ch_in), nn.BatchNorm2d(ch_out)
        self.conv1 = nn.Conv2d(ch_in, ch_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(ch_out, ch_out, 3, 1, 1)
        self.skip = nn.Conv2d(ch_in, ch_out, 1)

    def _norm(self, bn: nn.Module, x, labels):
        return bn(x, labels) if self.num_classes else F.relu(bn(x))

    def forward(self, x, labels=None):
        h = F.interpolate(self._norm(self.bn1, x, labels), scale_factor=2)
        h = self.conv2(self._norm(self.bn2, self.conv1(h), labels))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DownBlock(nn.Module):
    def __init__(self, ch_in: int, ch_out: int) -> None:
        super().__init__()
        self.conv1 = spectral_norm(nn.Conv2d(ch_in, ch_out, 3, 1, 1))
        self.conv2 = spectral_norm(nn.Conv2d(ch_out, ch_out, 3, 1, 1))
        self.skip = spectral_norm(nn.Conv2d(ch_in, ch_out, 1))

    def forward(self, x):
        h = self.conv2(fused_leaky_relu(self.conv1(fused_leaky_relu(x)), None, 0.2))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.skip(x), 2)


class Generator(nn.Module):
    def __init__(self, latent_dim: int, channels: int, size: int, width: int, num_classes: int = 0) -> None:
        super().__init__()
        self.width = width
        self.fc = nn.Linear(latent_dim, 4 * 4 * width)
        self.blocks = nn.Sequential(*[UpBlock(width, width, num_classes) for _ in range(int(math.log2(size)) - 2)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z, labels=None):
        h = self.fc(z).view(-1, self.width, 4, 4)
        for block in self.blocks:
            h = block(h, labels)
        return self.out(h)


class Discriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int, num_classes: int = 0) -> None:
        super().__init__()
        blocks = [DownBlock(channels, width)]
        blocks += [DownBlock(width, width) for _ in range(int(math.log2(size)) - 3)]
        self.blocks = nn.Sequential(*blocks)
        self.fc = spectral_norm(nn.Linear(width, 1))
        self.projection = None
        if num_classes:  # the class embedding spectrally normalised too, as SNGAN's
            self.projection = ProjectionHead(num_classes, width)
            spectral_norm(self.projection.embed)

    def forward(self, x, labels=None):
        h = fused_leaky_relu(self.blocks(x), None, 0.2).sum(dim=(2, 3))
        out = self.fc(h).flatten()
        return out if self.projection is None else out + self.projection(h, labels)


class ResNetGAN(Architecture):
    description = "small residual G + spectrally normalised residual D (example third-party plugin)"
    options = (Option("latent-dim", int, 128, "size of z"), Option("width", int, 64, "channels per block"))
    optimizer = AdamSettings(lr=2e-4, betas=(0.0, 0.9))
    conditional = True  # G(z, y) and D(x, y) on labelled data

    def accepts(self, spec: DataSpec) -> str | None:
        if not spec.is_image:
            return f"resnet models images, got {spec.describe()}"
        _, h, w = spec.shape
        if h != w or h < 16 or h > 128 or h & (h - 1):
            return f"resnet needs square power-of-two images from 16 to 128 px, got {h}x{w}"
        return None

    def latent_shape(self, spec: DataSpec, options: Mapping[str, Any]) -> tuple[int, ...]:
        return (int(options["latent_dim"]),)

    def build(self, spec: DataSpec, options: Mapping[str, Any]) -> GanModels:
        channels, size, _ = spec.shape
        width = int(options["width"])
        k = spec.num_classes  # 0: unlabelled data, unconditional nets
        return GanModels(Generator(int(options["latent_dim"]), channels, size, width, k),
                         Discriminator(channels, size, width, k))
