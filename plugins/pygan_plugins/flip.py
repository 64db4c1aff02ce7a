"""Random horizontal flips of every batch D sees (real and generated), each sample flipped with
probability p: the mildest of the augmentations that keep D from memorising small datasets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.augmentations import Augmentation
from pygan.plugins import DataSpec, Option


class HorizontalFlip(Augmentation):
    description = "flip each image left-right with probability p (images only)"
    options = (Option("p", float, 0.5, "probability that a sample is flipped"),)

    def accepts(self, spec: DataSpec) -> str | None:
        return None if spec.is_image else f"it flips images, and this data is a {spec.describe()}"

    def initial_strength(self, options: Mapping[str, Any]) -> float:
        p = options["p"]
        if not 0.0 <= p <= 1.0:
            from pygan.plugins import PluginError

            raise PluginError(f"flip: option 'p' is a probability in [0, 1], got {p}")
        return p

    def apply(self, x: torch.Tensor, strength: torch.Tensor, generator: torch.Generator,
              options: Mapping[str, Any]) -> torch.Tensor:
        draws = torch.rand(x.shape[0], generator=generator).to(x.device, non_blocking=True)
        flip = (draws < strength).view(-1, *([1] * (x.dim() - 1)))
        return torch.where(flip, x.flip(-1), x)
