"""The least-squares GAN loss (Mao et al. 2017) as a pygan loss plugin (the third-party example).

D regresses its raw scores onto targets instead of classifying: it minimises
0.5 E[(D(x) - b)^2] + 0.5 E[(D(G(z)) - a)^2], and G minimises 0.5 E[(D(G(z)) - c)^2]. With the
paper's a = 0, b = c = 1 (the defaults) fakes far on the real side of the boundary still get a
gradient, where the BCE loss saturates. Plain PyTorch: a plugin needs no fused op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.losses import DiscriminatorLossResult, GeneratorLossResult, Loss
from pygan.plugins import Option


def _half_mean_square(scores: torch.Tensor, target: float) -> torch.Tensor:
    # float32 even under bfloat16/float16 autocast: the squares lose too much precision otherwise
    return 0.5 * (scores.float() - target).square().mean()


class LeastSquares(Loss):
    description = "least squares (LSGAN, Mao et al. 2017): D regresses scores onto b (real) and a (fake), G onto c"
    options = (
        Option("a", float, 0.0, "D's target on generated samples"),
        Option("b", float, 1.0, "D's target on real samples"),
        Option("c", float, 1.0, "the target G wants D to give its samples"),
    )
    probabilities = False  # d_real / d_fake are mean raw scores, not probabilities

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                      options: Mapping[str, Any]) -> DiscriminatorLossResult:
        loss = _half_mean_square(real, options["b"]) + _half_mean_square(fake, options["a"])
        return DiscriminatorLossResult(loss, real.detach().float().mean(), fake.detach().float().mean())

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None,
                  options: Mapping[str, Any]) -> GeneratorLossResult:
        return GeneratorLossResult(_half_mean_square(fake, options["c"]), fake.detach().float().mean())
