"""GAN losses as objects the trainer calls, on the fused ops.

Both variants train D on -log D(x) - log(1 - D(G(z))) (the minimax value, negated). They differ
in G's loss: the saturating log(1 - D(G(z))) of the minimax game, whose gradient vanishes while
D confidently rejects the fakes, and the non-saturating -log D(G(z)) that fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pygan.ops import discriminator_loss, generator_loss
from pygan.ops.reference import DiscriminatorLossResult, GeneratorLossResult


@dataclass(frozen=True)
class GanLoss:
    name: str
    saturating: bool

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, *,
                      real_label: float = 1.0) -> DiscriminatorLossResult:
        return discriminator_loss(real_logits, fake_logits, real_label=real_label)

    def generator(self, fake_logits: torch.Tensor) -> GeneratorLossResult:
        return generator_loss(fake_logits, saturating=self.saturating)


LOSSES = {
    "non-saturating": GanLoss("non-saturating", saturating=False),
    "saturating": GanLoss("saturating", saturating=True),
}


def get_loss(name: str) -> GanLoss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    return LOSSES[name]
