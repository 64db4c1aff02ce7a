"""DiffAugment (Zhao et al. 2020) fused: brightness, saturation, contrast, translation with zero
fill and cutout of each image in one map, forward and backward one pass over the batch each.

    out = diff_augment(x, color, geometry)      x: (N, C, H, W), NCHW or channels-last

color (N, 3) holds each sample's brightness offset b, saturation factor s and contrast factor k
(identity 0, 1, 1); geometry (N, 6) its integers dy, dx (out(y, x) = x(y + dy, x + dx), 0
outside the image) and the cut box [y0, y1) x [x0, x1), zeroed (empty box: no cut). The
parameters are random draws (pygan_plugins.diffaugment samples them) and get no gradient; x does,
through every order of derivative.
"""

from __future__ import annotations

import torch

from pygan._extension import uses_kernel
from pygan.ops import reference

IDENTITY_COLOR = (0.0, 1.0, 1.0)  # brightness offset, saturation factor, contrast factor


def diff_augment(x: torch.Tensor, color: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
    """The augmented batch, differentiable with respect to x."""
    if uses_kernel(x):
        return torch.ops.pygan.diff_augment(x, color, geometry)
    return reference.diff_augment(x, color, geometry)
