"""Argument checks for the reference path, worded like the compiled kernels' own checks."""

from __future__ import annotations

import math

import torch

FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
REDUCTIONS = ("mean", "sum", "none")


def fail(op: str, message: str) -> None:
    raise RuntimeError(f"{op}: {message}")


def reduction(op: str, value: str) -> None:
    if value not in REDUCTIONS:
        fail(op, f"reduction must be 'mean', 'sum' or 'none', got '{value}'")


def floating(op: str, name: str, t: object) -> None:
    if not isinstance(t, torch.Tensor):
        fail(op, f"{name} must be a tensor, got {type(t).__name__}")
    if t.dtype not in FLOAT_DTYPES:
        fail(op, f"{name} must be float32, float64, float16 or bfloat16, got {t.dtype}; "
                 "convert it with .float()")


def same_device_dtype(op: str, a_name: str, a: torch.Tensor, b_name: str, b: torch.Tensor) -> None:
    if a.device != b.device:
        fail(op, f"{a_name} is on {a.device} but {b_name} is on {b.device}; "
                 "move both to the same device")
    if a.dtype != b.dtype:
        fail(op, f"{a_name} is {a.dtype} but {b_name} is {b.dtype}; convert both to the same dtype")


def real_label(op: str, value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        fail(op, "real_label must lie in [0, 1] (1.0 = no smoothing, 0.9 = one-sided smoothing), "
                 f"got {value}")


def leaky_params(op: str, negative_slope: float, gain: float) -> None:
    # The fused backward keeps only the output and reads the input's sign from it: right for
    # slope >= 0 only (csrc/checks.h makes the same check).
    if not (math.isfinite(negative_slope) and negative_slope >= 0.0):
        fail(op, "negative_slope must be a finite number >= 0 (the backward reads the input's sign from "
                 f"the output, which a negative slope flips), got {negative_slope}; "
                 "for a negative slope use torch.nn.functional.leaky_relu")
    if not (math.isfinite(gain) and gain > 0.0):
        fail(op, "gain must be a finite number > 0 (it scales the output; the backward reads the "
                 f"sign of the output), got {gain}")


def bias(op: str, x: torch.Tensor, b: torch.Tensor) -> None:
    floating(op, "bias", b)
    same_device_dtype(op, "input", x, "bias", b)
    if x.dim() < 2:
        fail(op, "a bias is added along dim 1, so input needs at least 2 dims, "
                 f"got shape {tuple(x.shape)}")
    if b.dim() != 1 or b.numel() != x.shape[1]:
        fail(op, f"bias must be 1-D with one value per channel (input.size(1) = {x.shape[1]}), "
                 f"got shape {tuple(b.shape)}")


def batch_norm_input(op: str, x: torch.Tensor, eps: float, negative_slope: float) -> None:
    floating(op, "input", x)
    if x.dim() < 2:
        fail(op, f"input must be (N, C, ...) with channels in dim 1, got shape {tuple(x.shape)}")
    per_channel = x.numel() // x.shape[1] if x.shape[1] else 0
    if per_channel <= 1:
        fail(op, "batch statistics need more than 1 value per channel, got input shape "
                 f"{tuple(x.shape)}; use a batch of at least 2 samples")
    if not (math.isfinite(eps) and eps > 0.0):
        fail(op, f"eps must be a finite number > 0, got {eps}")
    if not math.isfinite(negative_slope):
        fail(op, f"negative_slope must be finite, got {negative_slope}")


def batch_norm_param(op: str, name: str, x: torch.Tensor, p: torch.Tensor) -> None:
    floating(op, name, p)
    if p.device != x.device:
        fail(op, f"{name} is on {p.device} but input is on {x.device}; move both to the same device")
    low = x.dtype in (torch.float16, torch.bfloat16)
    if p.dtype != x.dtype and not (low and p.dtype == torch.float32):
        fail(op, f"{name} is {p.dtype} but input is {x.dtype}; use the input's dtype "
                 "(or float32 with float16/bfloat16 input)")
    if p.dim() != 1 or p.numel() != x.shape[1]:
        fail(op, f"{name} must be 1-D with one value per channel (input.size(1) = {x.shape[1]}), "
                 f"got shape {tuple(p.shape)}")


def batch_norm_args(op: str, x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                    eps: float, negative_slope: float) -> None:
    batch_norm_input(op, x, eps, negative_slope)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            batch_norm_param(op, name, x, p)


def statistics_dtype(x: torch.Tensor) -> torch.dtype:
    """BatchNorm statistics are kept in float32 (float64 for float64 input)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


# ---- every op's argument checks, in the order csrc/op_setup.h makes them: the reference path and
# the fake kernels (torch.compile tracing) refuse what the compiled kernels refuse ----

def discriminator_loss_args(op: str, real: torch.Tensor, fake: torch.Tensor, label: float, red: str) -> None:
    reduction(op, red)
    floating(op, "real_logits", real)
    floating(op, "fake_logits", fake)
    same_device_dtype(op, "real_logits", real, "fake_logits", fake)
    real_label(op, label)
    if red == "none" and real.shape != fake.shape:
        fail(op, "reduction='none' returns the per-pair value, so real_logits and fake_logits need the "
                 f"same shape, got {tuple(real.shape)} and {tuple(fake.shape)}; use reduction='mean' or 'sum'")


def loss_grad(op: str, grad: torch.Tensor, like: torch.Tensor, red: str) -> None:
    floating(op, "grad_loss", grad)
    if red == "none" and grad.shape != like.shape:
        fail(op, f"with reduction='none' grad_loss must have the logits' shape {tuple(like.shape)}, "
                 f"got {tuple(grad.shape)}")
    if red != "none" and grad.numel() != 1:
        fail(op, f"with a reduced loss grad_loss must hold one value, got shape {tuple(grad.shape)}")


def discriminator_loss_backward_args(op: str, grad: torch.Tensor, real: torch.Tensor, fake: torch.Tensor,
                                     label: float, red: str) -> None:
    reduction(op, red)
    floating(op, "real_logits", real)
    floating(op, "fake_logits", fake)
    same_device_dtype(op, "real_logits", real, "fake_logits", fake)
    floating(op, "grad_loss", grad)
    same_device_dtype(op, "real_logits", real, "grad_loss", grad)
    real_label(op, label)
    loss_grad(op, grad, real, red)
    if red == "none":
        loss_grad(op, grad, fake, red)


def generator_loss_args(op: str, fake: torch.Tensor, red: str) -> None:
    reduction(op, red)
    floating(op, "fake_logits", fake)


def generator_loss_backward_args(op: str, grad: torch.Tensor, fake: torch.Tensor, red: str) -> None:
    reduction(op, red)
    floating(op, "fake_logits", fake)
    floating(op, "grad_loss", grad)
    same_device_dtype(op, "fake_logits", fake, "grad_loss", grad)
    loss_grad(op, grad, fake, red)


def fused_leaky_relu_args(op: str, x: torch.Tensor, b: torch.Tensor | None, negative_slope: float,
                          gain: float) -> None:
    floating(op, "input", x)
    leaky_params(op, negative_slope, gain)
    if b is not None:
        bias(op, x, b)


def fused_leaky_relu_backward_args(op: str, grad_output: torch.Tensor, output: torch.Tensor,
                                   negative_slope: float, gain: float) -> None:
    floating(op, "output", output)
    floating(op, "grad_output", grad_output)
    same_device_dtype(op, "output", output, "grad_output", grad_output)
    leaky_params(op, negative_slope, gain)
    if grad_output.shape != output.shape:
        fail(op, f"grad_output has shape {tuple(grad_output.shape)} but output has shape {tuple(output.shape)}")


def fused_leaky_relu_backward_bias_args(op: str, grad_output: torch.Tensor, output: torch.Tensor,
                                        negative_slope: float, gain: float) -> None:
    fused_leaky_relu_backward_args(op, grad_output, output, negative_slope, gain)
    if output.dim() < 2:
        fail(op, "the bias gradient sums over all dims but dim 1 (channels), so output needs at least 2 dims, "
                 f"got shape {tuple(output.shape)}; use fused_leaky_relu_backward for an output without a bias")


def batch_norm_backward_args(op: str, grad_out: torch.Tensor, x: torch.Tensor, mean: torch.Tensor,
                             invstd: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                             eps: float, negative_slope: float) -> None:
    batch_norm_input(op, x, eps, negative_slope)
    floating(op, "grad_out", grad_out)
    same_device_dtype(op, "input", x, "grad_out", grad_out)
    if grad_out.shape != x.shape:
        fail(op, f"grad_out has shape {tuple(grad_out.shape)} but input has shape {tuple(x.shape)}")
    stats = statistics_dtype(x)
    for name, t in (("mean", mean), ("invstd", invstd)):
        if not (isinstance(t, torch.Tensor) and t.device == x.device and t.dtype == stats and t.dim() == 1
                and t.numel() == x.shape[1]):
            got = f"{t.dtype} {tuple(t.shape)} on {t.device}" if isinstance(t, torch.Tensor) else type(t).__name__
            fail(op, f"{name} must be the forward's saved statistics: 1-D {stats} of {x.shape[1]} values on "
                     f"{x.device}, got {got}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            batch_norm_param(op, name, x, p)


# ---- the objectives of losses after 2014 and the gradient penalty ----

OBJECTIVE_KINDS = ("hinge", "least-squares", "wasserstein", "relativistic")
GENERATOR_KINDS = ("hinge", "least-squares", "wasserstein")
OBJECTIVE_REDUCTIONS = ("mean", "sum")


def objective_reduction(op: str, value: str) -> None:
    if value not in OBJECTIVE_REDUCTIONS:
        fail(op, f"reduction must be 'mean' or 'sum', got '{value}'")


def objective_kind(op: str, kind: str, allowed: tuple[str, ...]) -> None:
    if kind not in allowed:
        hint = ("; the relativistic G objective is discriminator_objective with real and fake swapped"
                if kind == "relativistic" else "")
        fail(op, f"kind must be one of {', '.join(repr(k) for k in allowed)}, got '{kind}'{hint}")


def finite_number(op: str, name: str, value: float) -> None:
    if not math.isfinite(value):
        fail(op, f"{name} must be a finite number, got {value}")


def discriminator_objective_args(op: str, real: torch.Tensor, fake: torch.Tensor, kind: str,
                                 real_target: float, fake_target: float, red: str) -> None:
    objective_kind(op, kind, OBJECTIVE_KINDS)
    objective_reduction(op, red)
    floating(op, "real_logits", real)
    floating(op, "fake_logits", fake)
    same_device_dtype(op, "real_logits", real, "fake_logits", fake)
    finite_number(op, "real_target", real_target)
    finite_number(op, "fake_target", fake_target)
    if kind == "relativistic" and real.shape != fake.shape:
        fail(op, "the relativistic objective pairs real_logits[i] with fake_logits[i], so they need the same "
                 f"shape, got {tuple(real.shape)} and {tuple(fake.shape)}; give D equal real and fake batches")


def objective_grad(op: str, grad: torch.Tensor) -> None:
    floating(op, "grad_loss", grad)
    if grad.numel() != 1:
        fail(op, f"grad_loss must hold one value (the loss is reduced), got shape {tuple(grad.shape)}")


def discriminator_objective_backward_args(op: str, grad: torch.Tensor, real: torch.Tensor, fake: torch.Tensor,
                                          kind: str, real_target: float, fake_target: float, red: str) -> None:
    discriminator_objective_args(op, real, fake, kind, real_target, fake_target, red)
    objective_grad(op, grad)
    same_device_dtype(op, "real_logits", real, "grad_loss", grad)


def generator_objective_args(op: str, fake: torch.Tensor, kind: str, target: float, red: str) -> None:
    objective_kind(op, kind, GENERATOR_KINDS)
    objective_reduction(op, red)
    floating(op, "fake_logits", fake)
    finite_number(op, "target", target)


def generator_objective_backward_args(op: str, grad: torch.Tensor, fake: torch.Tensor, kind: str,
                                      target: float, red: str) -> None:
    generator_objective_args(op, fake, kind, target, red)
    objective_grad(op, grad)
    same_device_dtype(op, "fake_logits", fake, "grad_loss", grad)


def gradient_penalty_args(op: str, grad: torch.Tensor, center: float, red: str) -> None:
    objective_reduction(op, red)
    floating(op, "grad", grad)
    if grad.dim() < 1:
        fail(op, "grad must be (N, ...) with one sample per row of dim 0, got a 0-dim tensor")
    if not (math.isfinite(center) and center >= 0.0):
        fail(op, f"center must be a finite number >= 0 (0: R1/R2, 1: WGAN-GP), got {center}")


def gradient_penalty_backward_args(op: str, grad_penalty: torch.Tensor, grad: torch.Tensor, norms: torch.Tensor,
                                   center: float, red: str) -> None:
    gradient_penalty_args(op, grad, center, red)
    floating(op, "grad_penalty", grad_penalty)
    same_device_dtype(op, "grad", grad, "grad_penalty", grad_penalty)
    if grad_penalty.numel() != 1:
        fail(op, f"grad_penalty must hold one value, got shape {tuple(grad_penalty.shape)}")
    stats = statistics_dtype(grad)
    if not (isinstance(norms, torch.Tensor) and norms.device == grad.device and norms.dtype == stats
            and norms.dim() == 1 and norms.numel() == grad.shape[0]):
        got = f"{norms.dtype} {tuple(norms.shape)} on {norms.device}" if isinstance(norms, torch.Tensor) \
            else type(norms).__name__
        fail(op, f"norms must be the forward's per-sample norms: 1-D {stats} of {grad.shape[0]} values on "
                 f"{grad.device}, got {got}")


def conv2d_weight_grad_args(op: str, input: torch.Tensor, grad_output: torch.Tensor, kernel_size, stride,
                            padding) -> None:
    """As check_conv2d_weight_grad_args in csrc/checks.h."""
    for name, t in (("input", input), ("grad_output", grad_output)):
        if not isinstance(t, torch.Tensor):
            fail(op, f"{name} must be a tensor, got {type(t).__name__}")
        if t.dtype not in (torch.float32, torch.float64):
            fail(op, f"{name} must be float32 or float64, got {t.dtype}; convert it with .float()")
        if t.dim() != 4:
            fail(op, f"{name} must be 4-D (N, C, H, W), got shape {list(t.shape)}")
    same_device_dtype(op, "input", input, "grad_output", grad_output)
    for name, v, least in (("kernel_size", kernel_size, 1), ("stride", stride, 1), ("padding", padding, 0)):
        if len(v) != 2 or min(v) < least:
            fail(op, f"{name} must be two integers >= {least} (height, width), got {list(v)}")
    if grad_output.shape[0] != input.shape[0]:
        fail(op, f"grad_output has batch {grad_output.shape[0]} but input has {input.shape[0]}; "
                 "pass the grad_output of this input's convolution")
    expected = []
    for d in range(2):
        span = input.shape[2 + d] + 2 * padding[d] - kernel_size[d]
        if span < 0:
            fail(op, f"kernel_size {list(kernel_size)} is larger than input {list(input.shape)} padded by "
                     f"{list(padding)}")
        expected.append(span // stride[d] + 1)
    if list(grad_output.shape[2:]) != expected:
        fail(op, f"grad_output's spatial size must be ({expected[0]}, {expected[1]}) for input "
                 f"{list(input.shape)} with kernel_size {list(kernel_size)}, stride {list(stride)} and padding "
                 f"{list(padding)}, got {list(grad_output.shape)}")
