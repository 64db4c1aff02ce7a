"""R1 (Mescheder et al. 2018): gamma/2 E ||grad_x D(x)||^2 on real samples; `--reg r1:GAMMA[:EVERY]`.

The gradient is taken through D's own layers, the fused ops included (their backward is
differentiable again), so the penalty's gradient reaches D's weights.
"""

from __future__ import annotations

import torch

from pygan.regularisers import PenaltyInputs, Regulariser


class R1(Regulariser):
    description = "gamma/2 E||grad D(x)||^2 on reals (Mescheder et al. 2018); weight = gamma"
    target = "discriminator"
    default_weight = 10.0
    default_every = 1

    def penalty(self, inputs: PenaltyInputs) -> torch.Tensor:
        real = inputs.real.detach().requires_grad_(True)
        scores = inputs.discriminator(real)
        (grad,) = torch.autograd.grad(scores.float().sum(), real, create_graph=True)
        return 0.5 * grad.float().square().flatten(1).sum(1).mean()
