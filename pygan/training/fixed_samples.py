"""What the per-epoch samples are drawn from besides the fixed noise: on labelled data, fixed labels
(a grid of one row per class, a cloud of 2-D points coloured by class)."""

from __future__ import annotations

import torch

from pygan import plugins
from pygan.generate import classes_in_turn

GRID_COLUMNS_PER_CLASS = 8


def sample_of(item: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """A dataset item's sample, without its label if it has one."""
    return item[0] if isinstance(item, (tuple, list)) else item


def fixed_labels(spec: plugins.DataSpec, samples: int) -> tuple[torch.Tensor | None, int]:
    """The labels of the per-epoch samples and the grid's columns: on labelled images, one row of
    GRID_COLUMNS_PER_CLASS samples per class; on labelled points, the classes in turn (at least
    1,000 points); (None, 0) on unlabelled data (a square grid)."""
    k = spec.num_classes
    if not k:
        return None, 0
    if spec.is_image:
        return torch.arange(k).repeat_interleave(GRID_COLUMNS_PER_CLASS), GRID_COLUMNS_PER_CLASS
    return classes_in_turn(max(samples, 1000), k), 0
