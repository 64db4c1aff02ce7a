"""nn.Conv2d and nn.ConvTranspose2d whose weight gradient is pygan's conv2d_weight_grad on the CPUs
where that is faster than oneDNN's, with the same parameters and state_dict as torch's layers.

Rule (`weight_grad_rule`, shown by `pygan info`): on CPUs without AVX-512, oneDNN's backward-weights
convolution is its older jit kernel (the brgemm kernels it runs elsewhere need AVX-512), and on a
Zen 3 EPYC it ran DCGAN's 4x4 stride-2 layers at 67-86 GFLOP/s against 75-118 for im2col + GEMM,
which was faster in five of the six (benchmarks/conv-weight-grad-*.txt). With AVX-512, and on CUDA,
the layers are torch's own. Only the weight gradient changes: the forward and the input gradient
stay oneDNN's (or cuDNN's).
"""

from __future__ import annotations

import copy
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

from pygan.ops.conv2d_weight_grad import conv2d_weight_grad

WEIGHT_GRAD_PATHS = ("auto", "pygan", "aten")
# The wider channel side of the GEMM (input's for a convolution, the output's for a transposed one)
# below which oneDNN stays faster: with 3-channel images its kernel beat im2col + GEMM (2x).
MIN_CHANNELS = 16


@cache
def weight_grad_rule() -> tuple[str, str]:
    """("pygan" or "aten", why) for CPU tensors on this machine."""
    capability = torch.backends.cpu.get_cpu_capability()
    if capability.startswith("AVX512"):
        return "aten", f"{capability}: oneDNN's brgemm backward-weights kernels"
    return "pygan", (f"{capability}: im2col + GEMM for layers with >= {MIN_CHANNELS} channels on the wide side; "
                     "oneDNN has no brgemm backward-weights kernel without AVX-512")


def _uses_pygan(path: str, x: torch.Tensor, weight: torch.Tensor) -> bool:
    if path == "aten" or not (torch.is_grad_enabled() and weight.requires_grad):
        return False
    if x.dtype not in (torch.float32, torch.float64) or torch.is_autocast_enabled(x.device.type):
        return False
    if torch.compiler.is_compiling():  # Inductor plans the whole step's convolutions itself
        return False
    return path == "pygan" or (x.device.type == "cpu" and weight_grad_rule()[0] == "pygan")


class _Convolution(torch.autograd.Function):
    """A convolution (or transposed one) whose backward takes the weight gradient from pygan."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, transposed, output_padding):
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, transposed, output_padding)
        if transposed:
            return F.conv_transpose2d(x, weight, bias, stride, padding, output_padding)
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        stride, padding, transposed, output_padding = ctx.geometry
        need_input, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_input = grad_weight = grad_bias = None

        def aten_backward(mask: list[bool]) -> tuple[torch.Tensor, ...]:
            return torch.ops.aten.convolution_backward(grad_output, x, weight, None, list(stride), list(padding),
                                                       [1, 1], transposed, list(output_padding), 1, mask)

        if need_input:
            grad_input = aten_backward([True, False, False])[0]
        if need_weight:
            wide, narrow = (grad_output, x) if transposed else (x, grad_output)
            if wide.shape[1] >= MIN_CHANNELS:
                grad_weight = conv2d_weight_grad(wide, narrow, weight.shape[2:], stride, padding)
            else:
                grad_weight = aten_backward([False, True, False])[1]
        if need_bias:
            grad_bias = grad_output.sum((0, 2, 3))
        return grad_input, grad_weight, grad_bias, None, None, None, None


def _plain_geometry(m: nn.modules.conv._ConvNd) -> bool:
    return (m.groups == 1 and m.dilation == (1, 1) and m.padding_mode == "zeros"
            and not isinstance(m.padding, str))


class Conv2d(nn.Conv2d):
    """nn.Conv2d; `weight_grad` "auto" (weight_grad_rule), "pygan" or "aten" picks the weight gradient."""

    weight_grad: str = "auto"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if _plain_geometry(self) and _uses_pygan(self.weight_grad, input, self.weight):
            return _Convolution.apply(input, self.weight, self.bias, self.stride, self.padding, False, (0, 0))
        return super().forward(input)


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d; `weight_grad` as in Conv2d."""

    weight_grad: str = "auto"

    def forward(self, input: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is None and _plain_geometry(self) and _uses_pygan(self.weight_grad, input, self.weight):
            return _Convolution.apply(input, self.weight, self.bias, self.stride, self.padding, True,
                                      self.output_padding)
        return super().forward(input, output_size)


def set_weight_grad(module: nn.Module, path: str) -> None:
    """Sets `weight_grad` on every pygan convolution in `module` ("auto", "pygan" or "aten")."""
    if path not in WEIGHT_GRAD_PATHS:
        raise ValueError(f"weight_grad must be one of {', '.join(WEIGHT_GRAD_PATHS)}, got {path!r}")
    for m in module.modules():
        if isinstance(m, (Conv2d, ConvTranspose2d)):
            m.weight_grad = path


def plain_conv(m: nn.Module) -> nn.Module:
    """A copy of a pygan convolution as torch's own layer; a copy of anything else as it is."""
    out = copy.deepcopy(m)
    plain = {Conv2d: nn.Conv2d, ConvTranspose2d: nn.ConvTranspose2d}.get(type(m))
    if plain is not None:
        out.__class__ = plain  # same attributes and parameters: only forward differs
    return out
