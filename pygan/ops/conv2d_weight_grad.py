"""The weight gradient of a 2-D convolution, as im2col + GEMM on CPU (csrc/cpu/conv2d_weight_grad.cpp):

    grad_weight[co, c, i, j] = sum_{n, oh, ow} grad_output[n, co, oh, ow] * input[n, c, oh*s + i - p, ow*s + j - p]

For conv_transpose2d(x, weight), the weight gradient is conv2d_weight_grad(grad_output, x) with the
same kernel size, stride and padding. It is differentiable to any order (its derivatives are
convolutions), so penalties that differentiate through a layer's backward train through it.
"""

from __future__ import annotations

import torch
from torch.nn.modules.utils import _pair

from pygan._extension import uses_kernel
from pygan.ops import reference


def conv2d_weight_grad(input: torch.Tensor, grad_output: torch.Tensor, kernel_size: int | tuple[int, int],
                       stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> torch.Tensor:
    """d loss / d weight of conv2d(input, weight, stride=stride, padding=padding) given d loss / d output
    (no dilation, no groups), shaped (C_out, C, kh, kw); the kernel returns it channels-last."""
    args = (_pair(kernel_size), _pair(stride), _pair(padding))
    if uses_kernel(input):
        return torch.ops.pygan.conv2d_weight_grad(input, grad_output, *(list(a) for a in args))
    return reference.conv2d_weight_grad(input, grad_output, *args)
