"""The hinge loss (Lim & Ye 2017; SAGAN, BigGAN), on the fused objective op.

D minimises relu(1 - D(x)) + relu(1 + D(G(z))): scores beyond the margin cost nothing, so D stops
pushing samples it already judges right. G minimises -D(G(z)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.losses import DiscriminatorLossResult, GeneratorLossResult, Loss
from pygan.ops import discriminator_objective, generator_objective


class Hinge(Loss):
    description = "hinge (Lim & Ye 2017; SAGAN, BigGAN): D relu(1 - D(x)) + relu(1 + D(G(z))), G -D(G(z))"
    probabilities = False  # raw scores, no sigmoid reading

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                      options: Mapping[str, Any]) -> DiscriminatorLossResult:
        return discriminator_objective(real, fake, "hinge", real_target=1.0, fake_target=-1.0)

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None,
                  options: Mapping[str, Any]) -> GeneratorLossResult:
        return generator_objective(fake, "hinge")
