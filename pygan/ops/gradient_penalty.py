"""The gradient-norm penalty, fused: per-sample norms and the penalty in one pass, and its backward
in one pass from the saved norms.

    penalty = mean_i (||g_i|| - center)^2    (g_i: sample i of `grad`, all dims but 0)

center 0 gives ||g_i||^2, the R1 / R2 penalty (Mescheder et al. 2018) on D's input gradient at
reals / fakes; center 1 gives WGAN-GP's (Gulrajani et al. 2017) at random interpolates. `grad`
comes from torch.autograd.grad(..., create_graph=True) through D, so the penalty's gradient flows
on into D's weights through the double-backward-capable fused ops.
"""

from __future__ import annotations

import torch

from pygan._extension import uses_kernel
from pygan.ops import reference
from pygan.ops.reference import GradientPenaltyResult


def gradient_penalty(grad: torch.Tensor, *, center: float = 0.0, reduction: str = "mean") -> GradientPenaltyResult:
    """The penalty on the per-sample norms of `grad` (N, ...), and those norms (detached)."""
    if uses_kernel(grad):
        penalty, norms = torch.ops.pygan.gradient_penalty(grad, float(center), reduction)
        return GradientPenaltyResult(penalty, norms)
    return reference.gradient_penalty(grad, center=float(center), reduction=reduction)
