"""Bad input raises a RuntimeError that names the argument, on both the kernel and reference paths."""

from __future__ import annotations

import pytest
import torch

from pygan._extension import compiled_for
from pygan.ops import (
    FusedLeakyReLU,
    batch_norm_leaky_relu,
    discriminator_loss,
    fused_leaky_relu,
    fused_leaky_relu_,
    generator_loss,
    reference,
)

PATHS = {
    "kernel": (discriminator_loss, generator_loss, fused_leaky_relu),
    "reference": (reference.discriminator_loss, reference.generator_loss, reference.fused_leaky_relu),
}
BATCH_NORM_PATHS = {"kernel": batch_norm_leaky_relu, "reference": reference.batch_norm_leaky_relu}
needs_kernel = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")


@pytest.fixture(params=[pytest.param("kernel", marks=needs_kernel), "reference"])
def path(request):
    return PATHS[request.param]


def test_integer_logits(path):
    d_loss, g_loss, _ = path
    with pytest.raises(RuntimeError, match=r"real_logits must be float32.*\.float\(\)"):
        d_loss(torch.ones(4, 1, dtype=torch.long), torch.randn(4, 1))
    with pytest.raises(RuntimeError, match="fake_logits must be float32"):
        g_loss(torch.ones(4, 1, dtype=torch.int32))


def test_integer_activation_input(path):
    with pytest.raises(RuntimeError, match="input must be float32"):
        path[2](torch.ones(2, 3, dtype=torch.long))


def test_bias_of_the_wrong_length(path):
    expected = r"bias must be 1-D with one value per channel \(input.size\(1\) = 4\)"
    with pytest.raises(RuntimeError, match=expected):
        path[2](torch.randn(2, 4, 3, 3), torch.randn(5))


def test_bias_on_a_one_dim_input(path):
    with pytest.raises(RuntimeError, match="input needs at least 2 dims"):
        path[2](torch.randn(4), torch.randn(4))


def test_negative_or_zero_gain(path):
    for gain in (-1.0, 0.0, float("nan")):
        with pytest.raises(RuntimeError, match="gain must be a finite number > 0"):
            path[2](torch.randn(2, 3), None, 0.2, gain)


def test_negative_slope_is_refused(path):
    # The backward reads the input's sign from the output: with slope -0.5 it would give [[1, 1]]
    # for x = [[-1, 2]] instead of [[-0.5, 1]].
    x = torch.tensor([[-1.0, 2.0]], requires_grad=True)
    for slope in (-0.5, -1e-6, float("-inf"), float("nan")):
        with pytest.raises(RuntimeError, match=r"negative_slope must be a finite number >= 0"):
            path[2](x, None, slope).sum().backward()


@needs_kernel
def test_negative_slope_is_refused_by_every_entry_point():
    message = r"negative_slope must be a finite number >= 0.*got -0\.5"
    with pytest.raises(RuntimeError, match=message):
        fused_leaky_relu_(torch.randn(2, 3), None, -0.5)
    with pytest.raises(RuntimeError, match=message):
        torch.ops.pygan.fused_leaky_relu(torch.randn(2, 3), None, -0.5, 1.0)
    with pytest.raises(RuntimeError, match=message):
        torch.ops.pygan.fused_leaky_relu_backward(torch.randn(3), torch.randn(3), -0.5, 1.0)
    with pytest.raises(RuntimeError, match=message):
        FusedLeakyReLU(3, negative_slope=-0.5)


def test_tensors_on_different_devices(path):
    d_loss = path[0]
    here = torch.get_default_device()  # cpu, or cuda:0 under PYGAN_TEST_DEVICE=cuda
    with pytest.raises(RuntimeError, match=f"real_logits is on {here} but fake_logits is on meta"):
        d_loss(torch.randn(4, 1), torch.randn(4, 1, device="meta"))
    with pytest.raises(RuntimeError, match=f"input is on {here} but bias is on meta"):
        path[2](torch.randn(2, 3), torch.randn(3, device="meta"))


def test_mismatched_dtypes(path):
    with pytest.raises(RuntimeError, match=r"real_logits is (torch\.float32|Float)"):
        path[0](torch.randn(4, 1), torch.randn(4, 1, dtype=torch.float64))


def test_bad_reduction_and_label(path):
    d_loss, g_loss, _ = path
    with pytest.raises(RuntimeError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        d_loss(torch.randn(4, 1), torch.randn(4, 1), reduction="avg")
    with pytest.raises(RuntimeError, match="reduction must be"):
        g_loss(torch.randn(4, 1), reduction="max")
    with pytest.raises(RuntimeError, match=r"real_label must lie in \[0, 1\]"):
        d_loss(torch.randn(4, 1), torch.randn(4, 1), real_label=1.5)
    with pytest.raises(RuntimeError, match="need the same shape"):
        d_loss(torch.randn(4, 1), torch.randn(3, 1), reduction="none")


@needs_kernel
def test_direct_op_calls_are_checked_too():
    with pytest.raises(RuntimeError, match="grad_output has shape"):
        torch.ops.pygan.fused_leaky_relu_backward(torch.randn(3), torch.randn(4), 0.2, 1.0)
    with pytest.raises(RuntimeError, match="grad_loss must hold one value"):
        torch.ops.pygan.generator_loss_backward(torch.randn(3), torch.randn(3), False, "mean")
    with pytest.raises(RuntimeError, match="bias must be 1-D"):
        fused_leaky_relu_(torch.randn(2, 3), torch.randn(2))


@pytest.fixture(params=[pytest.param("kernel", marks=needs_kernel), "reference"])
def batch_norm(request):
    return BATCH_NORM_PATHS[request.param]


def test_batch_norm_leaky_relu_bad_input(batch_norm):
    x = torch.randn(4, 3, 5, 5)
    with pytest.raises(RuntimeError, match=r"input must be float32.*\.float\(\)"):
        batch_norm(x.long())
    with pytest.raises(RuntimeError, match=r"more than 1 value per channel.*at least 2 samples"):
        batch_norm(torch.randn(1, 3))
    with pytest.raises(RuntimeError, match=r"input must be \(N, C, \.\.\.\)"):
        batch_norm(torch.randn(5))
    with pytest.raises(RuntimeError, match=r"weight must be 1-D with one value per channel \(input.size\(1\) = 3\)"):
        batch_norm(x, torch.ones(4))
    with pytest.raises(RuntimeError, match=r"bias is (torch\.float64|Double)"):
        batch_norm(x, None, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="eps must be a finite number > 0"):
        batch_norm(x, None, None, 0.0)
    with pytest.raises(RuntimeError, match="negative_slope must be finite"):
        batch_norm(x, None, None, 1e-5, float("nan"))


@needs_kernel
def test_batch_norm_backward_checks_its_statistics():
    x, g = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    with pytest.raises(RuntimeError, match="mean must be the forward's saved statistics"):
        torch.ops.pygan.batch_norm_leaky_relu_backward(g, x, torch.zeros(2), torch.ones(3), None, None, 1e-5, 0.2)
    with pytest.raises(RuntimeError, match="grad_out has shape"):
        torch.ops.pygan.batch_norm_leaky_relu_backward(g[:2], x, torch.zeros(3), torch.ones(3), None, None, 1e-5,
                                                       0.2)
