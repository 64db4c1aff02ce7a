"""R2 (Mescheder et al. 2018): gamma/2 E ||grad D(G(z))||^2 on generated samples; `--reg r2:GAMMA[:EVERY]`.

R1's twin on the other side of the boundary: it keeps D flat around the fakes. R3GAN uses both
with one gamma, so the defaults here are R1's (gamma 10, every step).
"""

from __future__ import annotations

import torch

from pygan.ops import gradient_penalty
from pygan.regularisers import PenaltyInputs, Regulariser
from pygan_plugins.r1 import R1, input_gradient


class R2(Regulariser):
    description = ("gamma/2 E||grad D(G(z))||^2 on generated samples (Mescheder et al. 2018); weight = gamma; "
                   "defaults as r1's (R3GAN uses one gamma for both)")
    target = "discriminator"
    default_weight = R1.default_weight
    default_every = R1.default_every

    def penalty(self, inputs: PenaltyInputs) -> torch.Tensor:
        return 0.5 * gradient_penalty(input_gradient(inputs.discriminator, inputs.fake, inputs.fake_labels)).penalty
