"""Fake (meta) kernels: output shapes, dtypes and strides of the pygan ops without computing
them, so that torch.compile traces the ops without graph breaks. Each mirrors the allocation in
csrc/op_setup.h and first makes the same argument checks (pygan.ops._checks), so that bad
arguments fail under tracing exactly as they fail eagerly."""

from __future__ import annotations

import torch

from pygan.ops import _augment_checks, _checks


def _scalar(like: torch.Tensor) -> torch.Tensor:
    return like.new_empty(())


@torch.library.register_fake("pygan::discriminator_loss")
def _discriminator_loss(real_logits, fake_logits, real_label=1.0, reduction="mean"):
    _checks.discriminator_loss_args("pygan.discriminator_loss", real_logits, fake_logits, real_label, reduction)
    if reduction == "none":
        loss = torch.empty_like(real_logits, memory_format=torch.contiguous_format)
    else:
        loss = _scalar(real_logits)
    return loss, _scalar(real_logits), _scalar(real_logits)


@torch.library.register_fake("pygan::discriminator_loss_backward")
def _discriminator_loss_backward(grad_loss, real_logits, fake_logits, real_label, reduction):
    _checks.discriminator_loss_backward_args("pygan.discriminator_loss_backward", grad_loss, real_logits,
                                             fake_logits, real_label, reduction)
    return (torch.empty_like(real_logits, memory_format=torch.contiguous_format),
            torch.empty_like(fake_logits, memory_format=torch.contiguous_format))


@torch.library.register_fake("pygan::generator_loss")
def _generator_loss(fake_logits, saturating=False, reduction="mean"):
    _checks.generator_loss_args("pygan.generator_loss", fake_logits, reduction)
    if reduction == "none":
        loss = torch.empty_like(fake_logits, memory_format=torch.contiguous_format)
    else:
        loss = _scalar(fake_logits)
    return loss, _scalar(fake_logits)


@torch.library.register_fake("pygan::generator_loss_backward")
def _generator_loss_backward(grad_loss, fake_logits, saturating, reduction):
    _checks.generator_loss_backward_args("pygan.generator_loss_backward", grad_loss, fake_logits, reduction)
    return torch.empty_like(fake_logits, memory_format=torch.contiguous_format)


@torch.library.register_fake("pygan::fused_leaky_relu")
def _fused_leaky_relu(input, bias=None, negative_slope=0.2, gain=1.0):
    _checks.fused_leaky_relu_args("pygan.fused_leaky_relu", input, bias, negative_slope, gain)
    return torch.empty_like(input)


@torch.library.register_fake("pygan::fused_leaky_relu_")
def _fused_leaky_relu_(input, bias=None, negative_slope=0.2, gain=1.0):
    _checks.fused_leaky_relu_args("pygan.fused_leaky_relu_", input, bias, negative_slope, gain)
    return None


@torch.library.register_fake("pygan::fused_leaky_relu_backward")
def _fused_leaky_relu_backward(grad_output, output, negative_slope, gain):
    _checks.fused_leaky_relu_backward_args("pygan.fused_leaky_relu_backward", grad_output, output,
                                           negative_slope, gain)
    return torch.empty_like(output)


@torch.library.register_fake("pygan::fused_leaky_relu_backward_bias")
def _fused_leaky_relu_backward_bias(grad_output, output, negative_slope, gain):
    _checks.fused_leaky_relu_backward_bias_args("pygan.fused_leaky_relu_backward_bias", grad_output, output,
                                                negative_slope, gain)
    return torch.empty_like(_kernel_layout(output)), output.new_empty((output.shape[1],))


def _kernel_layout(input: torch.Tensor) -> torch.Tensor:
    # The kernels keep contiguous and channels-last input as it is and make anything else contiguous.
    if input.is_contiguous():
        return input
    if (input.dim() == 4 and input.is_contiguous(memory_format=torch.channels_last)) or \
            (input.dim() == 5 and input.is_contiguous(memory_format=torch.channels_last_3d)):
        return input
    return input.contiguous()


@torch.library.register_fake("pygan::batch_norm_leaky_relu")
def _batch_norm_leaky_relu(input, weight, bias, eps=1e-5, negative_slope=0.2):
    _checks.batch_norm_args("pygan.batch_norm_leaky_relu", input, weight, bias, eps, negative_slope)
    stats = _checks.statistics_dtype(input)
    channels = input.shape[1]
    return (torch.empty_like(_kernel_layout(input)), input.new_empty((channels,), dtype=stats),
            input.new_empty((channels,), dtype=stats))


@torch.library.register_fake("pygan::batch_norm_leaky_relu_backward")
def _batch_norm_leaky_relu_backward(grad_out, input, mean, invstd, weight, bias, eps, negative_slope):
    _checks.batch_norm_backward_args("pygan.batch_norm_leaky_relu_backward", grad_out, input, mean, invstd,
                                     weight, bias, eps, negative_slope)
    stats = _checks.statistics_dtype(input)
    channels = input.shape[1]
    return (torch.empty_like(_kernel_layout(input)),
            input.new_empty((channels,), dtype=weight.dtype if weight is not None else stats),
            input.new_empty((channels,), dtype=bias.dtype if bias is not None else stats))


@torch.library.register_fake("pygan::discriminator_objective")
def _discriminator_objective(real_logits, fake_logits, kind, real_target, fake_target, reduction="mean"):
    _checks.discriminator_objective_args("pygan.discriminator_objective", real_logits, fake_logits, kind,
                                         real_target, fake_target, reduction)
    return _scalar(real_logits), _scalar(real_logits), _scalar(real_logits)


@torch.library.register_fake("pygan::discriminator_objective_backward")
def _discriminator_objective_backward(grad_loss, real_logits, fake_logits, kind, real_target, fake_target,
                                      reduction):
    _checks.discriminator_objective_backward_args("pygan.discriminator_objective_backward", grad_loss,
                                                  real_logits, fake_logits, kind, real_target, fake_target,
                                                  reduction)
    return (torch.empty_like(real_logits, memory_format=torch.contiguous_format),
            torch.empty_like(fake_logits, memory_format=torch.contiguous_format))


@torch.library.register_fake("pygan::generator_objective")
def _generator_objective(fake_logits, kind, target, reduction="mean"):
    _checks.generator_objective_args("pygan.generator_objective", fake_logits, kind, target, reduction)
    return _scalar(fake_logits), _scalar(fake_logits)


@torch.library.register_fake("pygan::generator_objective_backward")
def _generator_objective_backward(grad_loss, fake_logits, kind, target, reduction):
    _checks.generator_objective_backward_args("pygan.generator_objective_backward", grad_loss, fake_logits,
                                              kind, target, reduction)
    return torch.empty_like(fake_logits, memory_format=torch.contiguous_format)


def _sample_major(grad: torch.Tensor) -> torch.Tensor:
    # csrc/objective_setup.h: a dense tensor whose dim 0 is outermost stays as it is.
    n = grad.shape[0]
    if n > 0 and grad.numel() > 0 and _is_dense(grad) and (n == 1 or grad.stride(0) == grad.numel() // n):
        return grad
    return grad.contiguous()


def _is_dense(t: torch.Tensor) -> bool:
    return torch._prims_common.is_non_overlapping_and_dense_or_false(t)


@torch.library.register_fake("pygan::gradient_penalty")
def _gradient_penalty(grad, center=0.0, reduction="mean"):
    _checks.gradient_penalty_args("pygan.gradient_penalty", grad, center, reduction)
    return _scalar(grad), grad.new_empty((grad.shape[0],), dtype=_checks.statistics_dtype(grad))


@torch.library.register_fake("pygan::gradient_penalty_backward")
def _gradient_penalty_backward(grad_penalty, grad, norms, center, reduction):
    _checks.gradient_penalty_backward_args("pygan.gradient_penalty_backward", grad_penalty, grad, norms,
                                           center, reduction)
    return torch.empty_like(_sample_major(grad))


@torch.library.register_fake("pygan::diff_augment")
def _diff_augment(x, color, geometry):
    _augment_checks.diff_augment_args("pygan.diff_augment", x, color, geometry)
    return _augment_checks.output_like(x)


@torch.library.register_fake("pygan::diff_augment_backward")
def _diff_augment_backward(grad_output, color, geometry):
    _augment_checks.diff_augment_args("pygan.diff_augment_backward", grad_output, color, geometry, "grad_output")
    return _augment_checks.output_like(grad_output)


@torch.library.register_fake("pygan::conv2d_weight_grad")
def _conv2d_weight_grad(input, grad_output, kernel_size, stride, padding):
    _checks.conv2d_weight_grad_args("pygan.conv2d_weight_grad", input, grad_output, kernel_size, stride, padding)
    # (C_out, kh, kw, C) viewed as (C_out, C, kh, kw): the kernel's channels-last result.
    return input.new_empty((grad_output.shape[1], *kernel_size, input.shape[1])).permute(0, 3, 1, 2)
