"""The relativistic pairing loss (RpGAN, Jolicoeur-Martineau 2018; R3GAN's objective), on the fused
objective op.

Each generated sample is judged against a real one, pair by pair: D minimises
softplus(D(G(z_i)) - D(x_i)), G the same with the two swapped, softplus(D(x_i) - D(G(z_i))). So G's
objective reads D's scores on reals too, and real and fake batches must be of one size. R3GAN
pairs it with R1 and R2 (`--reg r1 --reg r2`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.losses import DiscriminatorLossResult, GeneratorLossResult, Loss
from pygan.ops import discriminator_objective, generator_objective


class Relativistic(Loss):
    description = ("relativistic pairing (RpGAN, Jolicoeur-Martineau 2018; R3GAN): D softplus(D(G(z)) - D(x)), "
                   "G softplus(D(x) - D(G(z))), pair by pair; R3GAN adds --reg r1 --reg r2")
    probabilities = False
    generator_needs_real = True

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                      options: Mapping[str, Any]) -> DiscriminatorLossResult:
        return discriminator_objective(real, fake, "relativistic")

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None,
                  options: Mapping[str, Any]) -> GeneratorLossResult:
        if real is None:
            raise ValueError("the relativistic loss compares each generated sample with a real one: G's objective "
                             "needs D's scores on a real batch (real=None given; the loss sets "
                             "generator_needs_real, so the training step passes them)")
        return generator_objective(fake, "relativistic", real_logits=real)
