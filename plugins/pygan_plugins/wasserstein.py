"""The Wasserstein loss (WGAN, Arjovsky et al. 2017), on the fused objective op.

D (the critic) minimises D(G(z)) - D(x) and G minimises -D(G(z)). With D 1-Lipschitz,
-loss_D = D(x) - D(G(z)) estimates the Wasserstein-1 distance between data and samples; without a
Lipschitz constraint nothing bounds D's scores and training diverges, so pair it with
`--reg gradient-penalty` (WGAN-GP) or a spectrally normalised D.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.losses import DiscriminatorLossResult, GeneratorLossResult, Loss
from pygan.ops import discriminator_objective, generator_objective


class Wasserstein(Loss):
    description = ("Wasserstein (Arjovsky et al. 2017): D D(G(z)) - D(x), G -D(G(z)); use with "
                   "--reg gradient-penalty (WGAN-GP): without a Lipschitz constraint on D it diverges")
    probabilities = False

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                      options: Mapping[str, Any]) -> DiscriminatorLossResult:
        return discriminator_objective(real, fake, "wasserstein")

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None,
                  options: Mapping[str, Any]) -> GeneratorLossResult:
        return generator_objective(fake, "wasserstein")
