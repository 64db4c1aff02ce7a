"""The augmentation contract (entry-point group `pygan.augmentations`, `pygan train --augment
NAME`): a differentiable map applied to every batch D sees, real and generated, in D's step and
in G's, so that G learns through it and D cannot memorise a small dataset.

    [project.entry-points."pygan.augmentations"]
    myaug = "pygan_myaug:MyAugment"

Its strength (e.g. the probability an augmentation is applied) is a 0-dim tensor on the training
device that `adjust` may change from D's outputs on reals (adaptive augmentation, ADA); the run
logs it as `augment_p` and keeps it in the checkpoint.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import torch

from pygan.plugins import DataSpec, Option, PluginError


class Augmentation(ABC):
    """Options arrive resolved (defaults filled, `_` for `-`)."""

    description: str = ""
    options: tuple[Option, ...] = ()

    def accepts(self, spec: DataSpec) -> str | None:
        """None if this augmentation applies to data of `spec`, else the reason it does not."""
        return None

    def accepts_loss(self, loss: str, options: Mapping[str, Any]) -> str | None:
        """None if `adjust` can read D's outputs under --loss `loss`, else the reason it cannot."""
        return None

    def initial_strength(self, options: Mapping[str, Any]) -> float:
        """The strength a run starts with."""
        return 1.0

    @abstractmethod
    def apply(self, x: torch.Tensor, strength: torch.Tensor, generator: torch.Generator,
              options: Mapping[str, Any]) -> torch.Tensor:
        """The augmented batch, differentiable with respect to x. Random draws come from
        `generator` (a seeded CPU generator saved in the checkpoint), so runs stay reproducible."""

    def adjust(self, strength: torch.Tensor, real_scores: torch.Tensor, options: Mapping[str, Any]) -> torch.Tensor:
        """The strength after a D step that gave `real_scores` on reals; fixed by default. Runs on
        the device without reading values back to the host."""
        return strength


# `--augment color,translation,cutout` (any of these, comma-separated) is short for the
# first-party DiffAugment plugin with that policy.
DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")
DIFFAUGMENT = "diffaugment"


def expand_shorthand(name: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(plugin name, options) for `--augment name`: a list of DiffAugment policies becomes
    `diffaugment` with option policy = that list; any other name is a plugin's own."""
    parts = [p.strip() for p in name.split(",")]
    if name and all(p in DIFFAUGMENT_POLICIES for p in parts):
        if "policy" in options:
            raise PluginError(f"--augment {name} already names the policy; drop --augment-option policy=...")
        return DIFFAUGMENT, {"policy": ",".join(parts), **options}
    return name, dict(options)


def adaptive_strength(strength: torch.Tensor, real_scores: torch.Tensor, target: float,
                      ramp_images: int) -> torch.Tensor:
    """ADA's update (Karras et al. 2020): r = E[sign(D(x))] over this D step's real outputs; p
    moves by their count / ramp_images up while r > target (D is overfitting), down while below,
    clamped to [0, 1]. On the device, no host read."""
    r = real_scores.detach().float().sign().mean()
    step = real_scores.shape[0] / ramp_images
    return (strength + step * torch.sign(r - target)).clamp(0.0, 1.0)
