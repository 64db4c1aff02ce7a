"""The 2-D Gaussian mixtures of the mode-collapse literature (VEEGAN, PacGAN):

ring8:  8 modes on the unit circle at angles 2*pi*k/8, std 0.01
grid25: 25 modes on {-4, -2, 0, 2, 4}^2, std 0.05

Samples are drawn once per dataset from --option seed, uniformly over the modes. With
--option labels=modes each point is labelled with its mode (class k = mode k, at angle 2*pi*k/8
on ring8, row-major on grid25) for class-conditional training. An epoch is
50,000 points on ring8 and 300,000 on grid25, whose 25 sharp modes need about six times the
steps before nine samples in ten land on them: with --pack 2, 29,275 steps of 64 packs left 79%
of the samples high-quality and 58,575 steps 91%, over 10 seeds each (PacGAN's grid runs are
100,000 points x 400 epochs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from pygan.data.tensor_samples import TensorSamples
from pygan.plugins import Dataset, DataSpec, Option


def _options(size: int) -> tuple[Option, ...]:
    # torch.Generator.manual_seed takes any integer in [-2**63, 2**64 - 1].
    return (Option("size", int, size, "samples per epoch", min=1),
            Option("seed", int, 0, "seed of the sample draw", min=-(2**63), max=2**64 - 1),
            Option("labels", str, "none", "modes = each point labelled with its mode (class-conditional "
                                          "training); none = unlabelled", choices=("none", "modes")))


class GaussianMixture(Dataset):
    std: float = 0.0
    options = _options(50_000)

    def modes(self) -> torch.Tensor:
        """The (K, 2) mode centres."""
        raise NotImplementedError

    def spec(self, options: Mapping[str, Any]) -> DataSpec:
        labelled = options.get("labels", "none") == "modes"
        return DataSpec((2,), None, tuple(f"mode-{k}" for k in range(len(self.modes()))) if labelled else ())

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample_labelled(n, generator)[0]

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """n points and the mode each was drawn from."""
        centres = self.modes()
        which = torch.randint(len(centres), (n,), generator=generator)
        return centres[which] + self.std * torch.randn(n, 2, generator=generator), which

    def load(self, options: Mapping[str, Any]) -> torch.utils.data.Dataset:
        size = int(options["size"])
        if size < 1:
            raise ValueError(f"{type(self).__name__.lower()}: option size must be >= 1, got {size}")
        generator = torch.Generator().manual_seed(int(options["seed"]))
        points, modes = self.sample_labelled(size, generator)
        return TensorSamples(points, modes if options.get("labels", "none") == "modes" else None)


class Ring8(GaussianMixture):
    description = "8 Gaussians on the unit circle, std 0.01 (mode-collapse benchmark)"
    std = 0.01

    def modes(self) -> torch.Tensor:
        angles = torch.arange(8, dtype=torch.float32) * (2 * math.pi / 8)
        return torch.stack([angles.cos(), angles.sin()], dim=1)


class Grid25(GaussianMixture):
    description = "25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (mode-collapse benchmark)"
    std = 0.05
    options = _options(300_000)

    def modes(self) -> torch.Tensor:
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis)
