"""Fused BatchNorm (batch statistics) + LeakyReLU: leaky_relu((x - mean) / sqrt(var + eps) * weight
+ bias, negative_slope), per channel (dim 1), as in DCGAN's discriminator blocks.

One op forward (statistics and the normalise-scale-shift-activate pass) and one op backward
(all three gradients); nothing is kept for the backward beyond the input and two per-channel
statistics. Channels-last input stays channels-last. Under autocast, bfloat16/float16
activations meet float32 weights without casts; statistics are float32.
"""

from __future__ import annotations

import torch
from torch import nn

from pygan._extension import uses_kernel
from pygan.ops import reference


def batch_norm_leaky_relu(x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                          eps: float = 1e-5, negative_slope: float = 0.2
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (output, mean, invstd); mean and invstd = 1/sqrt(var + eps) are the batch statistics
    (biased variance), detached, in float32 (float64 for float64 input)."""
    if uses_kernel(x):
        return torch.ops.pygan.batch_norm_leaky_relu(x, weight, bias, float(eps), float(negative_slope))
    return reference.batch_norm_leaky_relu(x, weight, bias, float(eps), float(negative_slope))


class BatchNormLeakyReLU(nn.modules.batchnorm._BatchNorm):
    """nn.BatchNorm{1,2,3}d followed by LeakyReLU(negative_slope), in one fused op when training
    (or when running statistics are not tracked). Same parameters, buffers and state_dict keys as
    nn.BatchNorm2d; evaluation with running statistics uses ATen's batch_norm + leaky_relu."""

    def __init__(self, num_features: int, negative_slope: float = 0.2, eps: float = 1e-5,
                 momentum: float | None = 0.1, affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.negative_slope = float(negative_slope)

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2 or input.shape[1] != self.num_features:
            raise ValueError(f"BatchNormLeakyReLU({self.num_features}): expected input of shape "
                             f"(N, {self.num_features}, ...), got {tuple(input.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if self.training or self.running_mean is None:
            y, mean, invstd = batch_norm_leaky_relu(x, self.weight, self.bias, self.eps, self.negative_slope)
            if self.training and self.running_mean is not None:
                self._update_running_stats(x, mean, invstd)
            return y
        z = nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                     False, 0.0, self.eps)
        return nn.functional.leaky_relu(z, self.negative_slope)

    @torch.no_grad()
    def _update_running_stats(self, x: torch.Tensor, mean: torch.Tensor, invstd: torch.Tensor) -> None:
        # As nn.BatchNorm: the running variance is the unbiased batch variance.
        self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        count = x.numel() // x.shape[1]
        var = (invstd.double().pow(-2) - self.eps) * (count / (count - 1))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(var.clamp_min(0).to(self.running_var.dtype), momentum)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, negative_slope={self.negative_slope}"
