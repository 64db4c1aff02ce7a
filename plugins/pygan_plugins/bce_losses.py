"""The two losses of the 2014 GAN paper, on the fused BCE ops.

Both train D on -log D(x) - log(1 - D(G(z))) (the minimax value, negated). They differ in G's
loss: the saturating log(1 - D(G(z))) of the minimax game, whose gradient vanishes while D
confidently rejects the fakes, and the non-saturating -log D(G(z)) that fixes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.losses import DiscriminatorLossResult, GeneratorLossResult, Loss
from pygan.ops import discriminator_loss, generator_loss
from pygan.plugins import Option

REAL_LABEL = Option("real-label", float, 1.0, "D's target on reals; 0.9 = one-sided label smoothing")


class _BinaryCrossEntropy(Loss):
    options = (REAL_LABEL,)
    saturating = False

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                      options: Mapping[str, Any]) -> DiscriminatorLossResult:
        return discriminator_loss(real, fake, real_label=options["real_label"])

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None,
                  options: Mapping[str, Any]) -> GeneratorLossResult:
        return generator_loss(fake, saturating=self.saturating)

    def minimax_value(self, options: Mapping[str, Any]) -> bool:
        return options["real_label"] == 1.0  # label smoothing changes D's objective


class NonSaturating(_BinaryCrossEntropy):
    description = "BCE; G minimises -log D(G(z)) (Goodfellow et al. 2014, the practical variant)"


class Saturating(_BinaryCrossEntropy):
    description = "BCE; G minimises log(1 - D(G(z))), the minimax game's own loss"
    saturating = True
