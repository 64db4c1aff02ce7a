"""The loss contract (entry-point group `pygan.losses`, `pygan train --loss NAME`): D's and G's
objectives from D's outputs.

    [project.entry-points."pygan.losses"]
    myloss = "pygan_myloss:MyLoss"

D's outputs are raw scores (logits), one per sample. A loss returns its objective with the mean D
outputs it logs (metrics.jsonl `d_real`, `d_fake`): probabilities D(x) = sigmoid(logit) for the
losses of the 2014 paper, mean raw scores for losses that have no probability reading (hinge,
Wasserstein), as `probabilities` says. Relativistic losses compare each fake with a real sample,
so G's objective may read D's outputs on reals too (`generator_needs_real`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import torch

from pygan.ops.reference import DiscriminatorLossResult, GeneratorLossResult
from pygan.plugins import Option

__all__ = ["DiscriminatorLossResult", "GeneratorLossResult", "Loss"]


class Loss(ABC):
    """A GAN objective. Both methods get options already resolved (defaults filled, `_` for `-`)."""

    description: str = ""
    options: tuple[Option, ...] = ()
    probabilities: bool = True        # d_real / d_fake are mean probabilities in [0, 1] (else mean scores)
    generator_needs_real: bool = False  # G's objective reads D(x) (relativistic losses)

    @abstractmethod
    def discriminator(self, real: torch.Tensor, fake: torch.Tensor,
                      options: Mapping[str, Any]) -> DiscriminatorLossResult:
        """D's objective (minimised) from D's outputs on real and (detached) generated samples."""

    @abstractmethod
    def generator(self, fake: torch.Tensor, real: torch.Tensor | None,
                  options: Mapping[str, Any]) -> GeneratorLossResult:
        """G's objective (minimised) from D's outputs on generated samples (and on reals when
        `generator_needs_real`, else None)."""

    def minimax_value(self, options: Mapping[str, Any]) -> bool:
        """True when D's loss in mean form is the negated value V(D, G) of the 2014 minimax game
        (then log 2 - loss_D / 2 is a lower bound on the Jensen-Shannon divergence)."""
        return False
