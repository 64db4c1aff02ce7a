"""The regulariser contract (entry-point group `pygan.regularisers`, `pygan train --reg
NAME[:weight[:every]]`): a penalty added to D's (or G's) objective.

    [project.entry-points."pygan.regularisers"]
    myreg = "pygan_myreg:MyPenalty"

The step adds weight x penalty to the objective of `target`. With `every` = k > 1 (lazy
regularisation, StyleGAN2) the penalty is computed on every k-th step only and scaled by k, so
its average strength stays the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch

TARGETS = ("discriminator", "generator")


@dataclass(frozen=True)
class PenaltyInputs:
    """What a penalty may look at, on the step that computes it."""

    # D as the step calls it: packed batch (and, in a class-conditional run, its labels) -> (N,) scores.
    # Unlabelled runs call discriminator(x); conditional ones must pass labels=, or the call is refused.
    discriminator: Callable[..., torch.Tensor]
    real: torch.Tensor   # the real batch D judges (packed, detached)
    fake: torch.Tensor   # the generated batch D judges (packed; detached in D's step)
    generator: torch.Generator  # seeded randomness (e.g. interpolation weights); part of the checkpoint
    real_labels: torch.Tensor | None = None  # class-conditional runs: the labels D judges `real` under
    fake_labels: torch.Tensor | None = None  # ... and `fake` under (None on unlabelled data)


class Regulariser(ABC):
    description: str = ""
    target: str = "discriminator"  # whose objective the penalty joins: "discriminator" or "generator"
    default_weight: float = 1.0
    default_every: int = 1

    @abstractmethod
    def penalty(self, inputs: PenaltyInputs) -> torch.Tensor:
        """The unweighted penalty: a scalar tensor, differentiable with respect to the target's weights."""
