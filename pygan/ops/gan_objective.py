"""The GAN objectives after 2014, fused: one pass forward, one pass backward, on D's raw scores.

    kind            D minimises                                         G minimises
    hinge           relu(real_target - D(x)) + relu(D(G(z)) - fake_target)  -D(G(z))
                    (targets 1 and -1: Lim & Ye 2017)
    least-squares   0.5 (D(x) - real_target)^2 + 0.5 (D(G(z)) - fake_target)^2
                                                                        0.5 (D(G(z)) - target)^2
                    (LSGAN's b = 1, a = 0, c = 1: Mao et al. 2017)
    wasserstein     D(G(z)) - D(x)                                      -D(G(z))
    relativistic    softplus(D(G(z_i)) - D(x_i))                        softplus(D(x_i) - D(G(z_i)))
                    (pairs i; RpGAN, Jolicoeur-Martineau 2018; R3GAN)

Each term is averaged over its batch (reduction="mean") or summed ("sum"). The mean raw scores of D
on reals and fakes come back from the same pass, for logging.
"""

from __future__ import annotations

import torch

from pygan._extension import uses_kernel
from pygan.ops import reference
from pygan.ops.reference import DiscriminatorLossResult, GeneratorLossResult

# The published constants, used where a caller gives none.
DEFAULT_TARGETS = {"hinge": (1.0, -1.0), "least-squares": (1.0, 0.0), "wasserstein": (1.0, -1.0),
                   "relativistic": (1.0, -1.0)}
DEFAULT_GENERATOR_TARGET = 1.0  # least-squares' c


def discriminator_objective(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str, *,
                            real_target: float | None = None, fake_target: float | None = None,
                            reduction: str = "mean") -> DiscriminatorLossResult:
    """D's objective of `kind` from its raw scores on real and generated samples."""
    default_real, default_fake = DEFAULT_TARGETS.get(kind, (1.0, -1.0))
    real_target = default_real if real_target is None else float(real_target)
    fake_target = default_fake if fake_target is None else float(fake_target)
    if uses_kernel(real_logits):
        loss, d_real, d_fake = torch.ops.pygan.discriminator_objective(
            real_logits, fake_logits, kind, real_target, fake_target, reduction)
        return DiscriminatorLossResult(loss, d_real, d_fake)
    return reference.discriminator_objective(real_logits, fake_logits, kind, real_target=real_target,
                                             fake_target=fake_target, reduction=reduction)


def generator_objective(fake_logits: torch.Tensor, kind: str, *, real_logits: torch.Tensor | None = None,
                        target: float | None = None, reduction: str = "mean") -> GeneratorLossResult:
    """G's objective of `kind` from D's raw scores on generated samples (and, for relativistic, on
    the paired reals: the D objective with the two swapped)."""
    if kind == "relativistic":
        if real_logits is None:
            raise ValueError("generator_objective: the relativistic objective compares each fake with a real "
                             "sample; pass real_logits (D's scores on a real batch of the same size)")
        if real_logits.shape != fake_logits.shape:
            raise ValueError("generator_objective: the relativistic objective pairs fake_logits[i] with "
                             f"real_logits[i], so they need the same shape, got {tuple(fake_logits.shape)} and "
                             f"{tuple(real_logits.shape)}; give D equal real and fake batches")
        swapped = discriminator_objective(fake_logits, real_logits, kind, reduction=reduction)
        return GeneratorLossResult(swapped.loss, swapped.d_real)
    target = DEFAULT_GENERATOR_TARGET if target is None else float(target)
    if uses_kernel(fake_logits):
        loss, d_fake = torch.ops.pygan.generator_objective(fake_logits, kind, target, reduction)
        return GeneratorLossResult(loss, d_fake)
    return reference.generator_objective(fake_logits, kind, target=target, reduction=reduction)
