"""The benchmark cases: each op with its providers, the shapes of interest and the minimum bytes
a perfectly fused kernel must move (for the effective bandwidth)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pygan.ops import discriminator_loss, fused_leaky_relu, generator_loss

SHAPES = {
    "d_loss": [(64, 1), (128, 1), (128, 1, 30, 30), (4 * 1024 * 1024,)],
    "g_loss": [(64, 1), (128, 1), (128, 1, 30, 30), (4 * 1024 * 1024,)],
    "leaky_relu": [(64, 64, 32, 32), (64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    "bias_leaky_relu": [(64, 64, 32, 32), (64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
}
QUICK_SHAPES = {"d_loss": [(128, 1), (4 * 1024 * 1024,)], "g_loss": [(128, 1)],
                "leaky_relu": [(64, 64, 32, 32)], "bias_leaky_relu": [(64, 128, 16, 16)]}


@dataclass
class Case:
    op: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    inputs: list[torch.Tensor]  # leaves that require grad
    grad: torch.Tensor | None  # grad_output for non-scalar outputs
    providers: dict[str, Callable[..., torch.Tensor]]
    min_bytes_fwd: int
    min_bytes_fwd_bwd: int


def _d_loss_textbook(r, f):
    return -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean())


def _d_loss_stable(r, f):
    return (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
            + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))


def _g_loss_textbook(f):
    return -torch.log(torch.sigmoid(f)).mean()


def _g_loss_stable(f):
    return F.softplus(-f).mean()


def _leaky_textbook(x, b=None):
    if b is not None:
        x = x + b.view(1, -1, *([1] * (x.dim() - 2)))
    return torch.where(x > 0, x, 0.2 * x)


def _leaky_stable(x, b=None):
    if b is not None:
        x = x + b.view(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x, 0.2)


def make_case(op: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Case:
    def leaf(*s, scale=1.0):
        return (torch.randn(*s, device=device) * scale).to(dtype).requires_grad_()

    itemsize = torch.empty((), dtype=dtype).element_size()
    n = 1
    for s in shape:
        n *= s
    if op == "d_loss":
        inputs = [leaf(*shape, scale=3.0), leaf(*shape, scale=3.0)]
        fused = lambda r, f: discriminator_loss(r, f).loss  # noqa: E731
        providers = {"pygan": fused, "eager textbook": _d_loss_textbook, "eager stable": _d_loss_stable}
        # forward reads both logits; backward reads them again and writes both gradients
        return Case(op, shape, dtype, device, inputs, None, providers, 2 * n * itemsize, 6 * n * itemsize)
    if op == "g_loss":
        inputs = [leaf(*shape, scale=3.0)]
        providers = {"pygan": lambda f: generator_loss(f).loss, "eager textbook": _g_loss_textbook,
                     "eager stable": _g_loss_stable}
        return Case(op, shape, dtype, device, inputs, None, providers, n * itemsize, 3 * n * itemsize)
    with_bias = op == "bias_leaky_relu"
    inputs = [leaf(*shape)] + ([leaf(shape[1])] if with_bias else [])
    grad = torch.randn(*shape, device=device).to(dtype)
    providers = {"pygan": lambda x, b=None: fused_leaky_relu(x, b, 0.2, 1.0), "eager textbook": _leaky_textbook,
                 "eager stable": _leaky_stable}
    # forward: read x, write y; backward: read grad and y, write grad_x (the bias sum rides along)
    return Case(op, shape, dtype, device, inputs, grad, providers, 2 * n * itemsize, 5 * n * itemsize)
