"""The least-squares loss (LSGAN, Mao et al. 2017), on the fused objective op.

D minimises 0.5 (D(x) - b)^2 + 0.5 (D(G(z)) - a)^2 and G 0.5 (D(G(z)) - c)^2, on raw scores. The
defaults b = 1, a = 0, c = 1 are the paper's "G makes D believe the fakes are real" choice; its
other one, b - c = 1 and b - a = 2 (e.g. a = -1, b = 1, c = 0), makes G minimise the Pearson
chi-squared divergence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.losses import DiscriminatorLossResult, GeneratorLossResult, Loss
from pygan.ops import discriminator_objective, generator_objective
from pygan.plugins import Option

# Targets are scores D is pulled towards; the bounds only keep out values no one means (NaN, inf, 1e30).
TARGET_BOUND = 100.0
REAL_TARGET = Option("real-target", float, 1.0, "b: D's target on reals", min=-TARGET_BOUND, max=TARGET_BOUND)
FAKE_TARGET = Option("fake-target", float, 0.0, "a: D's target on generated samples",
                     min=-TARGET_BOUND, max=TARGET_BOUND)
GENERATOR_TARGET = Option("generator-target", float, 1.0, "c: the score G wants D to give its samples",
                          min=-TARGET_BOUND, max=TARGET_BOUND)


class LeastSquares(Loss):
    description = ("least squares (LSGAN, Mao et al. 2017): D 0.5 (D(x) - b)^2 + 0.5 (D(G(z)) - a)^2, "
                   "G 0.5 (D(G(z)) - c)^2; options real-target b, fake-target a, generator-target c")
    options = (REAL_TARGET, FAKE_TARGET, GENERATOR_TARGET)
    probabilities = False

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                      options: Mapping[str, Any]) -> DiscriminatorLossResult:
        return discriminator_objective(real, fake, "least-squares", real_target=options["real_target"],
                                       fake_target=options["fake_target"])

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None,
                  options: Mapping[str, Any]) -> GeneratorLossResult:
        return generator_objective(fake, "least-squares", target=options["generator_target"])
