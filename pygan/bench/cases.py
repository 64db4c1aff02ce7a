"""The benchmark cases: each op with its providers, the shapes of interest and the minimum bytes
a perfectly fused kernel must move (for the effective bandwidth)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pygan.ops import batch_norm_leaky_relu, discriminator_loss, fused_leaky_relu, generator_loss

SHAPES = {
    "d_loss": [(64, 1), (128, 1), (128, 1, 30, 30), (4 * 1024 * 1024,)],
    "g_loss": [(64, 1), (128, 1), (128, 1, 30, 30), (4 * 1024 * 1024,)],
    "leaky_relu": [(64, 64, 32, 32), (64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    "bias_leaky_relu": [(64, 64, 32, 32), (64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    # DCGAN's D blocks at 64 px, batch 64; "_cl" = channels-last tensors, as the trainer runs them.
    "bn_leaky_relu": [(64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    "bn_leaky_relu_cl": [(64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
}
QUICK_SHAPES = {"d_loss": [(128, 1), (4 * 1024 * 1024,)], "g_loss": [(128, 1)],
                "leaky_relu": [(64, 64, 32, 32)], "bias_leaky_relu": [(64, 128, 16, 16)],
                "bn_leaky_relu": [(64, 128, 16, 16)], "bn_leaky_relu_cl": [(64, 128, 16, 16)]}


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


def _bn_leaky_textbook(x, w, b):
    dims = [0, *range(2, x.dim())]
    shape = [1, -1] + [1] * (x.dim() - 2)
    var, mean = torch.var_mean(x, dims, correction=0, keepdim=True)
    z = (x - mean) / torch.sqrt(var + 1e-5) * w.view(shape) + b.view(shape)
    return torch.where(z > 0, z, 0.2 * z)


def _bn_leaky_stable(x, w, b):
    return F.leaky_relu(F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5), 0.2)


def _bn_leaky_case(op: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Case:
    layout = torch.channels_last if op.endswith("_cl") else torch.contiguous_format
    x = torch.randn(*shape, device=device).to(dtype).contiguous(memory_format=layout).requires_grad_()
    # BatchNorm's parameters stay float32 under autocast, as in training.
    param_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    w = (1 + 0.1 * torch.randn(shape[1], device=device)).to(param_dtype).requires_grad_()
    b = (0.1 * torch.randn(shape[1], device=device)).to(param_dtype).requires_grad_()
    grad = torch.randn(*shape, device=device).to(dtype).contiguous(memory_format=layout)
    providers = {"pygan": lambda x, w, b: batch_norm_leaky_relu(x, w, b, 1e-5, 0.2)[0],
                 "eager textbook": _bn_leaky_textbook, "eager stable": _bn_leaky_stable}
    n = x.numel() * x.element_size()
    # forward: read x, write y; backward: read grad and x, write grad_x
    return Case(op, shape, dtype, device, [x, w, b], grad, providers, 2 * n, 5 * n)


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
    if op.startswith("bn_leaky_relu"):
        return _bn_leaky_case(op, shape, dtype, device)
    with_bias = op == "bias_leaky_relu"
    inputs = [leaf(*shape)] + ([leaf(shape[1])] if with_bias else [])
    grad = torch.randn(*shape, device=device).to(dtype)
    providers = {"pygan": lambda x, b=None: fused_leaky_relu(x, b, 0.2, 1.0), "eager textbook": _leaky_textbook,
                 "eager stable": _leaky_stable}
    # forward: read x, write y; backward: read grad and y, write grad_x (the bias sum rides along)
    return Case(op, shape, dtype, device, inputs, grad, providers, 2 * n * itemsize, 5 * n * itemsize)
