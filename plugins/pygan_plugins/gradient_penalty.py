"""WGAN-GP's gradient penalty (Gulrajani et al. 2017): lambda E (||grad D(x_hat)|| - 1)^2 at random
interpolates x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1) per sample; `--reg gradient-penalty:LAMBDA[:EVERY]`.

It softly keeps the critic 1-Lipschitz along lines between data and samples, what `--loss
wasserstein` needs. eps comes from the step's seeded penalty generator, so runs repeat and resume
exactly.
"""

from __future__ import annotations

import torch

from pygan.ops import gradient_penalty
from pygan.regularisers import PenaltyInputs, Regulariser
from pygan_plugins.r1 import input_gradient


def interpolates(real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """eps_i x_i + (1 - eps_i) G(z_i), one eps_i ~ U[0, 1) per pair, detached.

    The training loop gives D equal real and fake batches (an epoch drops what fills no whole step),
    but GanStep.train_step takes any real batch, so a smaller one meets a full generated batch: the
    first min(N_real, N_fake) samples of each are paired."""
    n = min(real.shape[0], fake.shape[0])
    real, fake = real[:n].detach(), fake[:n].detach()
    dtype = torch.promote_types(real.dtype, fake.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    # Drawn where the generator lives (the step's is a CPU one), then moved: the same numbers on any device.
    eps = torch.rand(n, generator=generator, device=generator.device,
                     dtype=torch.float64 if dtype == torch.float64 else torch.float32)
    eps = eps.to(device=real.device, dtype=dtype).view(n, *([1] * (real.dim() - 1)))
    return torch.lerp(fake.to(dtype), real.to(dtype), eps)


class GradientPenalty(Regulariser):
    description = ("WGAN-GP (Gulrajani et al. 2017): lambda E(||grad D(x_hat)|| - 1)^2 at x_hat = eps x + "
                   "(1 - eps) G(z), eps ~ U[0, 1) per sample; weight = lambda; for --loss wasserstein")
    target = "discriminator"
    default_weight = 10.0
    default_every = 1

    def penalty(self, inputs: PenaltyInputs) -> torch.Tensor:
        x_hat = interpolates(inputs.real, inputs.fake, inputs.generator)
        # Class-conditional runs judge each interpolate under its real end's label.
        labels = None if inputs.real_labels is None else inputs.real_labels[:x_hat.shape[0]]
        return gradient_penalty(input_gradient(inputs.discriminator, x_hat, labels), center=1.0).penalty
