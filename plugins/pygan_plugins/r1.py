"""R1 (Mescheder et al. 2018): gamma/2 E ||grad_x D(x)||^2 on real samples; `--reg r1:GAMMA[:EVERY]`.

The gradient is taken through D's own layers, the fused ops included (their backward is
differentiable again), so the penalty's gradient reaches D's weights. The squared norms and their
mean come from the fused gradient_penalty op.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from pygan.ops import gradient_penalty
from pygan.regularisers import PenaltyInputs, Regulariser


def input_gradient(discriminator: Callable[..., torch.Tensor], x: torch.Tensor,
                   labels: torch.Tensor | None = None) -> torch.Tensor:
    """grad_x sum_i D(x_i) (D(x_i, y_i) given labels) at a detached copy of `x`, kept differentiable
    (create_graph) so a penalty on it trains D. Half-precision inputs (generated batches under
    autocast) are taken in float32 first, so the gradient and the penalty are not rounded to 8 or 11 bits."""
    x = x.detach()
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    x.requires_grad_(True)
    scores = discriminator(x) if labels is None else discriminator(x, labels=labels)
    (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=True)
    return grad


class R1(Regulariser):
    description = "gamma/2 E||grad D(x)||^2 on reals (Mescheder et al. 2018); weight = gamma"
    target = "discriminator"
    default_weight = 10.0
    default_every = 1

    def penalty(self, inputs: PenaltyInputs) -> torch.Tensor:
        return 0.5 * gradient_penalty(input_gradient(inputs.discriminator, inputs.real, inputs.real_labels)).penalty
