"""Fused bias + LeakyReLU + gain: gain * leaky_relu(x + bias[channel], negative_slope).

One pass forward; the backward keeps only the output and is itself differentiable, so
gradient penalties (R1, WGAN-GP) can differentiate through it.
"""

from __future__ import annotations

import torch
from torch import nn

from pygan._extension import uses_kernel
from pygan.ops import _checks, reference


def _bias_for(x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor | None:
    # Under autocast a float32 bias meets bfloat16/float16 activations: cast it, as autocast
    # would for the add it replaces. Outside autocast a mismatch stays an error.
    if bias is not None and bias.dtype != x.dtype and torch.is_autocast_enabled(x.device.type):
        return bias.to(x.dtype)
    return bias


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None,
                     negative_slope: float = 0.2, gain: float = 1.0) -> torch.Tensor:
    """gain * leaky_relu(x + bias, negative_slope), bias broadcast along dim 1 (channels)."""
    bias = _bias_for(x, bias)
    if uses_kernel(x):
        return torch.ops.pygan.fused_leaky_relu(x, bias, float(negative_slope), float(gain))
    return reference.fused_leaky_relu(x, bias, float(negative_slope), float(gain))


def fused_leaky_relu_(x: torch.Tensor, bias: torch.Tensor | None = None,
                      negative_slope: float = 0.2, gain: float = 1.0) -> torch.Tensor:
    """In-place fused_leaky_relu. Safe under autograd: the backward needs only the output."""
    bias = _bias_for(x, bias)
    if uses_kernel(x):
        torch.ops.pygan.fused_leaky_relu_(x, bias, float(negative_slope), float(gain))
        return x
    return x.copy_(reference.fused_leaky_relu(x, bias, float(negative_slope), float(gain)))


class FusedLeakyReLU(nn.Module):
    """LeakyReLU with a learnable per-channel bias (zeros at init) and a fixed gain."""

    def __init__(self, channels: int, bias: bool = True, negative_slope: float = 0.2,
                 gain: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"FusedLeakyReLU: channels must be >= 1, got {channels}")
        _checks.leaky_params("FusedLeakyReLU", negative_slope, gain)
        self.channels = channels
        self.negative_slope = float(negative_slope)
        self.gain = float(gain)
        self.inplace = inplace
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = fused_leaky_relu_ if self.inplace else fused_leaky_relu
        return act(x, self.bias, self.negative_slope, self.gain)

    def extra_repr(self) -> str:
        return (f"{self.channels}, bias={self.bias is not None}, "
                f"negative_slope={self.negative_slope}, gain={self.gain}, inplace={self.inplace}")
