"""FLOP counts of pygan's ops for torch.utils.flop_counter.FlopCounterMode, which cannot see the
GEMMs inside a C++ kernel: without them a step's convolution FLOPs would miss every weight gradient
pygan computes."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import register_flop_formula


@register_flop_formula(torch.ops.pygan.conv2d_weight_grad)
def conv2d_weight_grad_flop(input_shape, grad_output_shape, kernel_size, stride, padding, *,
                            out_shape=None, **kwargs) -> int:
    """A multiply and an add per (batch, output position, output channel, input channel, tap)."""
    batch, channels = input_shape[:2]
    out_channels, out_h, out_w = grad_output_shape[1:]
    return 2 * batch * out_h * out_w * out_channels * channels * kernel_size[0] * kernel_size[1]
