"""Pure-PyTorch formulas of pygan's fused ops: the fallback without the extension, and the oracle
the kernels are tested against. Same stable softplus form as csrc/pygan_math.h.

With D(x) = sigmoid(l):  -log D = softplus(-l)  and  -log(1 - D) = softplus(l).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from pygan.ops import _augment_checks, _checks


class DiscriminatorLossResult(NamedTuple):
    loss: torch.Tensor    # -log D(x) - log(1 - D(G(z))), reduced as asked
    d_real: torch.Tensor  # mean D(x), detached, for logging
    d_fake: torch.Tensor  # mean D(G(z)), detached, for logging


class GeneratorLossResult(NamedTuple):
    loss: torch.Tensor
    d_fake: torch.Tensor


class GradientPenaltyResult(NamedTuple):
    penalty: torch.Tensor  # mean (or sum) over samples of (||g_i|| - center)^2
    norms: torch.Tensor    # ||g_i|| per sample (float32, float64 for float64 input), detached


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return torch.clamp_min(x, 0) + torch.log1p(torch.exp(-x.abs()))


def _reduce(terms: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return terms.mean()
    if reduction == "sum":
        return terms.sum()
    return terms


def _mean_probability(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits.detach()).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, *,
                       reduction: str = "mean", real_label: float = 1.0) -> DiscriminatorLossResult:
    _checks.discriminator_loss_args("pygan.discriminator_loss", real_logits, fake_logits, real_label, reduction)
    # BCE(l, t) = softplus(-l) + (1 - t) * l; the product is skipped at t = 1 (exact at l = +-inf).
    real_terms = softplus(-real_logits)
    if real_label != 1.0:
        real_terms = real_terms + (1.0 - real_label) * real_logits
    fake_terms = softplus(fake_logits)
    if reduction == "none":
        loss = real_terms + fake_terms
    else:
        loss = _reduce(real_terms, reduction) + _reduce(fake_terms, reduction)
    return DiscriminatorLossResult(loss, _mean_probability(real_logits),
                                   _mean_probability(fake_logits))


def generator_loss(fake_logits: torch.Tensor, *, saturating: bool = False,
                   reduction: str = "mean") -> GeneratorLossResult:
    _checks.generator_loss_args("pygan.generator_loss", fake_logits, reduction)
    # saturating: log(1 - D(G(z))) = -softplus(l); non-saturating: -log D(G(z)) = softplus(-l)
    terms = -softplus(fake_logits) if saturating else softplus(-fake_logits)
    return GeneratorLossResult(_reduce(terms, reduction), _mean_probability(fake_logits))


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None,
                     negative_slope: float = 0.2, gain: float = 1.0) -> torch.Tensor:
    _checks.fused_leaky_relu_args("pygan.fused_leaky_relu", x, bias, negative_slope, gain)
    if bias is not None:
        x = x + bias.view([1, -1] + [1] * (x.dim() - 2))
    return torch.nn.functional.leaky_relu(x, negative_slope) * gain


def batch_norm_leaky_relu(x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                          eps: float = 1e-5, negative_slope: float = 0.2
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """leaky_relu(BatchNorm with batch statistics), and the statistics (mean, 1/sqrt(var + eps)),
    computed in float32 (float64 for float64 input)."""
    _checks.batch_norm_args("pygan.batch_norm_leaky_relu", x, weight, bias, eps, negative_slope)
    math_dtype = _checks.statistics_dtype(x)
    xf = x.to(math_dtype)
    dims = [0, *range(2, x.dim())]
    var, mean = torch.var_mean(xf, dims, correction=0, keepdim=True)
    invstd = torch.rsqrt(var + eps)
    shape = [1, -1] + [1] * (x.dim() - 2)
    z = (xf - mean) * invstd
    if weight is not None:
        z = z * weight.to(math_dtype).view(shape)
    if bias is not None:
        z = z + bias.to(math_dtype).view(shape)
    y = torch.nn.functional.leaky_relu(z, negative_slope).to(x.dtype)
    return y, mean.detach().flatten(), invstd.detach().flatten()


# ---- the objectives of losses after 2014, on raw scores (real_target / fake_target as in the ops) ----

def _objective_terms(kind: str, real: torch.Tensor, fake: torch.Tensor, real_target: float,
                     fake_target: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(real terms, fake terms) of a separable objective, or (pair terms, None) for relativistic."""
    if kind == "hinge":
        return torch.relu(real_target - real), torch.relu(fake - fake_target)
    if kind == "least-squares":
        return 0.5 * (real - real_target).square(), 0.5 * (fake - fake_target).square()
    if kind == "wasserstein":
        return -real, fake
    # relativistic: softplus(D(G(z_i)) - D(x_i)), as logaddexp(u, 0), whose gradient is sigmoid(u) also
    # at a tie u = 0 (low-precision scores tie often), where max(u, 0) + log1p(exp(-|u|)) gives 1
    u = fake - real
    return torch.logaddexp(u, torch.zeros_like(u)), None


def discriminator_objective(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str, *,
                            real_target: float = 1.0, fake_target: float = -1.0,
                            reduction: str = "mean") -> DiscriminatorLossResult:
    """D's objective of `kind` (see pygan.ops.gan_objective); d_real / d_fake are mean raw scores."""
    _checks.discriminator_objective_args("pygan.discriminator_objective", real_logits, fake_logits, kind,
                                         real_target, fake_target, reduction)
    real_terms, fake_terms = _objective_terms(kind, real_logits, fake_logits, real_target, fake_target)
    loss = _reduce(real_terms, reduction)
    if fake_terms is not None:
        loss = loss + _reduce(fake_terms, reduction)
    return DiscriminatorLossResult(loss, real_logits.detach().mean(), fake_logits.detach().mean())


def generator_objective(fake_logits: torch.Tensor, kind: str, *, target: float = 1.0,
                        reduction: str = "mean") -> GeneratorLossResult:
    """G's separable objective: -D(G(z)) (hinge, wasserstein) or 0.5 (D(G(z)) - target)^2 (least-squares)."""
    _checks.generator_objective_args("pygan.generator_objective", fake_logits, kind, target, reduction)
    terms = 0.5 * (fake_logits - target).square() if kind == "least-squares" else -fake_logits
    return GeneratorLossResult(_reduce(terms, reduction), fake_logits.detach().mean())


def gradient_penalty(grad: torch.Tensor, *, center: float = 0.0, reduction: str = "mean") -> GradientPenaltyResult:
    """(||g_i|| - center)^2 per sample i of dim 0, reduced; center 0 gives R1/R2's ||g_i||^2 and 1
    WGAN-GP's (||g_i|| - 1)^2. Computed in float32 (float64 for float64 input)."""
    _checks.gradient_penalty_args("pygan.gradient_penalty", grad, center, reduction)
    g = grad.to(_checks.statistics_dtype(grad)).reshape(grad.shape[0], math.prod(grad.shape[1:]))
    norms = torch.linalg.vector_norm(g, dim=1)  # its gradient at a zero norm is 0, as the kernel's
    terms = g.square().sum(1) if center == 0.0 else (norms - center).square()
    return GradientPenaltyResult(_reduce(terms, reduction).to(grad.dtype), norms.detach())


def diff_augment(x: torch.Tensor, color: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) in its own steps, with the per-sample parameters given:
    brightness, saturation and contrast, then translation by (dy, dx) with zero fill (an index
    gather from a zero-padded copy), then the cut box zeroed. In float32 (float64 for float64)."""
    _augment_checks.diff_augment_args("pygan.diff_augment", x, color, geometry)
    out = diff_augment_steps(x.to(_checks.statistics_dtype(x)), color.detach(), geometry).to(x.dtype)
    return out.contiguous(memory_format=_augment_checks.memory_format(x))


def diff_augment_steps(x: torch.Tensor, color: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
    """DiffAugment's steps in x's own dtype, as eager PyTorch code runs them."""
    n, _, h, w = x.shape
    v = x
    b, s, k = (color.to(v.dtype)[:, i].view(n, 1, 1, 1) for i in range(3))
    v = v + b
    mean = v.mean(dim=1, keepdim=True)
    v = (v - mean) * s + mean
    mean = v.mean(dim=(1, 2, 3), keepdim=True)
    v = (v - mean) * k + mean
    g = geometry.long()
    dy, dx = g[:, 0].clamp(-h, h), g[:, 1].clamp(-w, w)
    rows = (torch.arange(h, device=x.device) + dy[:, None] + 1).clamp(0, h + 1)  # row 0 and h + 1: padding
    cols = (torch.arange(w, device=x.device) + dx[:, None] + 1).clamp(0, w + 1)
    padded = torch.nn.functional.pad(v, (1, 1, 1, 1))
    v = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    v = v.permute(0, 3, 1, 2).contiguous(memory_format=_augment_checks.memory_format(x))  # the gather puts C last
    y0, y1, x0, x1 = (g[:, i].clamp(0, h if i < 4 else w)[:, None] for i in range(2, 6))
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    cut = ((ys >= y0) & (ys < y1))[:, :, None] & ((xs >= x0) & (xs < x1))[:, None, :]
    return v * (~cut).unsqueeze(1)


def conv2d_weight_grad(input: torch.Tensor, grad_output: torch.Tensor, kernel_size: tuple[int, int],
                       stride: tuple[int, int], padding: tuple[int, int]) -> torch.Tensor:
    """The weight gradient of conv2d(input, weight, stride, padding), by torch.nn.grad."""
    _checks.conv2d_weight_grad_args("pygan.conv2d_weight_grad", input, grad_output, kernel_size, stride, padding)
    shape = (grad_output.shape[1], input.shape[1], *kernel_size)
    return torch.nn.grad.conv2d_weight(input, shape, grad_output, stride=stride, padding=padding)
