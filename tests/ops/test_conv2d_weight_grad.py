"""conv2d_weight_grad (im2col + GEMM) against torch.nn.grad's weight gradient in float32 and
float64, in every layout, for convolutions and transposed ones; gradcheck and gradgradcheck (its
derivatives are convolutions), opcheck, torch.compile and bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import conv2d_weight_grad, reference
from tests.helpers import assert_refused_by_kernel_and_fake_kernel

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

ops = torch.ops.pygan
# (N, C, H, W, C_out, kernel, stride, padding): DCGAN's 4x4 stride-2 layers, its 4x4 head, odd
# sizes a stride does not divide, rectangular images and kernels, 1x1 and 3x3 same-size convolutions.
GEOMETRIES = [
    (3, 16, 16, 16, 32, (4, 4), (2, 2), (1, 1)),
    (2, 64, 8, 8, 128, (4, 4), (2, 2), (1, 1)),
    (2, 32, 4, 4, 1, (4, 4), (1, 1), (0, 0)),
    (3, 5, 9, 7, 6, (4, 4), (2, 2), (1, 1)),
    (2, 6, 11, 10, 4, (5, 3), (3, 2), (2, 1)),
    (4, 7, 6, 5, 3, (1, 1), (1, 1), (0, 0)),
    (2, 3, 8, 8, 5, (3, 3), (1, 1), (1, 1)),
]


def _pair_for(geometry, dtype, layout=torch.contiguous_format):
    n, c, h, w, c_out, k, s, p = geometry
    x = torch.randn(n, c, h, w, dtype=torch.float64).to(dtype).contiguous(memory_format=layout)
    oh, ow = ((h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
    gy = torch.randn(n, c_out, oh, ow, dtype=torch.float64).to(dtype).contiguous(memory_format=layout)
    return x, gy, k, s, p


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_matches_torch_nn_grad(dtype, geometry, layout):
    x, gy, k, s, p = _pair_for(geometry, dtype, layout)
    out = conv2d_weight_grad(x, gy, k, s, p)
    expected = torch.nn.grad.conv2d_weight(x.double(), (gy.shape[1], x.shape[1], *k), gy.double(), stride=s,
                                           padding=p)
    assert out.dtype == dtype and out.shape == expected.shape
    assert out.is_contiguous(memory_format=torch.channels_last)
    # Each value sums N * OH * OW products of unit-scale numbers, whose rounding error grows with
    # the square root of that count (elementwise ops' tolerances would be too tight).
    terms = gy.shape[0] * gy.shape[2] * gy.shape[3]
    eps = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out.double(), expected, rtol=eps, atol=eps * terms ** 0.5)


def test_is_the_gradient_autograd_gives_a_convolution_and_a_transposed_one():
    x = torch.randn(4, 24, 16, 16, dtype=torch.float64)
    w = torch.randn(40, 24, 4, 4, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(x, w, stride=2, padding=1)
    gy = torch.randn_like(y)
    (gw,) = torch.autograd.grad(y, w, gy)
    torch.testing.assert_close(conv2d_weight_grad(x, gy, 4, 2, 1), gw)
    # conv_transpose2d(z, W): the roles swap, the transposed layer's weight gradient is this op of (grad_output, z)
    z = torch.randn(4, 40, 8, 8, dtype=torch.float64)
    wt = torch.randn(40, 24, 4, 4, dtype=torch.float64, requires_grad=True)
    out = F.conv_transpose2d(z, wt, stride=2, padding=1)
    g_out = torch.randn_like(out)
    (gwt,) = torch.autograd.grad(out, wt, g_out)
    torch.testing.assert_close(conv2d_weight_grad(g_out, z, 4, 2, 1), gwt)


def test_non_contiguous_and_empty_inputs():
    x, gy, k, s, p = _pair_for(GEOMETRIES[0], torch.float64)
    wide = torch.randn(3, 32, 16, 32, dtype=torch.float64)[:, ::2, :, ::2]  # strided in C and W
    torch.testing.assert_close(conv2d_weight_grad(wide, gy, k, s, p),
                               reference.conv2d_weight_grad(wide, gy, k, s, p))
    empty = conv2d_weight_grad(x[:0], gy[:0], k, s, p)
    assert empty.shape == (32, 16, 4, 4) and not empty.any()


def test_gradcheck_and_gradgradcheck():
    x, gy, k, s, p = _pair_for((2, 3, 7, 6, 4, (4, 3), (2, 1), (1, 1)), torch.float64)
    x.requires_grad_(), gy.requires_grad_()
    fn = lambda a, b: conv2d_weight_grad(a, b, k, s, p)  # noqa: E731
    assert gradcheck(fn, (x, gy))
    assert gradgradcheck(fn, (x, gy))


def test_a_loss_on_the_weight_gradient_trains_through_it_as_through_autograd():
    # double backward as an R1-style penalty needs it: d/dx and d/dgrad_output of ||dW||^2
    x, gy, k, s, p = _pair_for(GEOMETRIES[3], torch.float64)
    x.requires_grad_(), gy.requires_grad_()
    ours = torch.autograd.grad(conv2d_weight_grad(x, gy, k, s, p).square().sum(), (x, gy))
    ref = torch.autograd.grad(reference.conv2d_weight_grad(x, gy, k, s, p).square().sum(), (x, gy))
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("geometry", [GEOMETRIES[0], GEOMETRIES[4]], ids=str)
def test_opcheck(geometry):
    x, gy, k, s, p = _pair_for(geometry, torch.float32, torch.channels_last)
    torch.library.opcheck(ops.conv2d_weight_grad.default,
                          (x.requires_grad_(), gy.requires_grad_(), list(k), list(s), list(p)))


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    x, gy, k, s, p = _pair_for(GEOMETRIES[1], torch.float32, torch.channels_last)
    fn = lambda a, b: conv2d_weight_grad(a, b, k, s, p) * 2  # noqa: E731
    torch.testing.assert_close(torch.compile(fn, fullgraph=True)(x, gy), fn(x, gy))


@pytest.mark.parametrize("mutate, message", [
    (lambda x, gy: (x.int(), gy), "input must be float32 or float64"),
    (lambda x, gy: (x, gy.half()), "grad_output must be float32 or float64"),
    (lambda x, gy: (x[0], gy), r"input must be 4-D \(N, C, H, W\)"),
    (lambda x, gy: (x, gy.double()), "input is torch.float32 but grad_output is torch.float64|"
                                     "input is Float but grad_output is Double"),
    (lambda x, gy: (x[:2], gy), "grad_output has batch 3 but input has 2"),
    (lambda x, gy: (x, gy[:, :, 1:]), r"grad_output's spatial size must be \(8, 8\)"),
])
def test_bad_input_is_refused_with_the_argument_named(mutate, message):
    def call(op):  # the tensors made inside, so that under FakeTensorMode they are fake
        x, gy, k, s, p = _pair_for(GEOMETRIES[0], torch.float32)
        return op(*mutate(x, gy), list(k), list(s), list(p))

    assert_refused_by_kernel_and_fake_kernel(lambda: call(ops.conv2d_weight_grad), message)
    with pytest.raises(RuntimeError, match=message):
        call(reference.conv2d_weight_grad)


@pytest.mark.parametrize("args, message", [
    (([0, 4], [2, 2], [1, 1]), r"kernel_size must be two integers >= 1"),
    (([4, 4], [0, 2], [1, 1]), r"stride must be two integers >= 1"),
    (([4, 4], [2, 2], [-1, 1]), r"padding must be two integers >= 0"),
    (([40, 4], [2, 2], [1, 1]), r"kernel_size \[40, 4\] is larger than input"),
])
def test_bad_geometry_is_refused(args, message):
    assert_refused_by_kernel_and_fake_kernel(
        lambda: ops.conv2d_weight_grad(*_pair_for(GEOMETRIES[0], torch.float32)[:2], *args), message)
