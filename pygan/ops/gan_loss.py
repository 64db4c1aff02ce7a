"""GAN losses on discriminator logits, fused: one pass forward, one pass backward.

    discriminator_loss: -log D(x) - log(1 - D(G(z)))  (optional one-sided label smoothing)
    generator_loss:     -log D(G(z))  (non-saturating, default)  or  log(1 - D(G(z)))  (saturating)

Both also return the mean D outputs (detached) computed in the same pass, for logging.
"""

from __future__ import annotations

import torch

from pygan._extension import uses_kernel
from pygan.ops import reference
from pygan.ops.reference import DiscriminatorLossResult, GeneratorLossResult


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, *,
                       reduction: str = "mean", real_label: float = 1.0) -> DiscriminatorLossResult:
    """The discriminator's loss from its logits on real and generated samples.

    reduction: "mean" (mean over real + mean over fake), "sum", or "none" (per-pair values;
    needs equal shapes). real_label < 1 applies one-sided label smoothing to the real target.
    """
    if uses_kernel(real_logits):
        loss, d_real, d_fake = torch.ops.pygan.discriminator_loss(
            real_logits, fake_logits, float(real_label), reduction)
        return DiscriminatorLossResult(loss, d_real, d_fake)
    return reference.discriminator_loss(real_logits, fake_logits, reduction=reduction,
                                        real_label=float(real_label))


def generator_loss(fake_logits: torch.Tensor, *, saturating: bool = False,
                   reduction: str = "mean") -> GeneratorLossResult:
    """The generator's loss from the discriminator's logits on generated samples."""
    if uses_kernel(fake_logits):
        loss, d_fake = torch.ops.pygan.generator_loss(fake_logits, bool(saturating), reduction)
        return GeneratorLossResult(loss, d_fake)
    return reference.generator_loss(fake_logits, saturating=saturating, reduction=reduction)
