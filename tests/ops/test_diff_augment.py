"""The fused DiffAugment op against the pure-PyTorch reference (DiffAugment's own steps) in every
dtype and layout, its backward against autograd through the reference, gradcheck and
gradgradcheck, opcheck, torch.compile, empty and extreme inputs, and bad input."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import diff_augment, reference
from tests.helpers import DTYPES, assert_close, assert_refused_by_kernel_and_fake_kernel, reference_in_float64

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

ops = torch.ops.pygan


def params(n: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random per-sample parameters in DiffAugment's ranges, cut boxes reaching past the border."""
    g = torch.Generator().manual_seed(seed)
    color = torch.stack((torch.rand(n, generator=g) - 0.5, 2 * torch.rand(n, generator=g),
                         torch.rand(n, generator=g) + 0.5), 1)
    dy = torch.randint(-(h // 4), h // 4 + 1, (n,), generator=g)
    dx = torch.randint(-(w // 4), w // 4 + 1, (n,), generator=g)
    y0 = torch.randint(-(h // 4), h, (n,), generator=g)
    x0 = torch.randint(-(w // 4), w, (n,), generator=g)
    geometry = torch.stack((dy, dx, y0, y0 + (h + 1) // 2, x0, x0 + (w + 1) // 2), 1)
    return color.to(torch.get_default_device()), geometry.to(torch.get_default_device())


def images(*shape, dtype=torch.float32, channels_last=False):
    x = torch.randn(*shape, dtype=torch.float64).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("shape", [(6, 3, 16, 16), (3, 1, 9, 7), (2, 5, 12, 33), (4, 3, 1, 6), (4, 2, 5, 1)],
                         ids=str)
def test_forward_and_backward_match_the_reference(dtype, channels_last, shape):
    n, _, h, w = shape
    color, geometry = params(n, h, w)
    x = images(*shape, dtype=dtype, channels_last=channels_last).requires_grad_()
    out = diff_augment(x, color, geometry)
    expected, (leaf,) = reference_in_float64(reference.diff_augment, x, color=color, geometry=geometry)
    assert out.dtype == dtype and out.shape == x.shape
    assert out.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    assert_close(out, expected, dtype)
    grad_out = torch.randn(shape, dtype=torch.float64).to(dtype)
    (grad,) = torch.autograd.grad(out, x, grad_out)
    (expected_grad,) = torch.autograd.grad(expected, leaf, grad_out.double())
    assert grad.dtype == dtype
    assert_close(grad, expected_grad, dtype)


def test_identity_parameters_give_the_input_back_and_a_pure_shift_moves_it():
    x = images(4, 3, 10, 10, dtype=torch.float64)
    color = torch.tensor([[0.0, 1.0, 1.0]] * 4, dtype=torch.float64)
    none = torch.zeros(4, 6, dtype=torch.long)
    torch.testing.assert_close(diff_augment(x, color, none), x, rtol=0, atol=1e-15)
    shift = none.clone()
    shift[:, 0], shift[:, 1] = 2, -3  # out(y, x) = x(y + 2, x - 3)
    out = diff_augment(x, color, shift)
    torch.testing.assert_close(out[:, :, :8, 3:], x[:, :, 2:, :7], rtol=0, atol=1e-15)
    assert (out[:, :, 8:] == 0).all() and (out[:, :, :, :3] == 0).all()


def test_the_color_formulas_are_diffaugments():
    x = images(2, 3, 5, 5, dtype=torch.float64)
    b, s, k = 0.3, 1.7, 0.6
    color = torch.tensor([[b, s, k]] * 2, dtype=torch.float64)
    v = x + b
    v = (v - v.mean(1, keepdim=True)) * s + v.mean(1, keepdim=True)
    v = (v - v.mean((1, 2, 3), keepdim=True)) * k + v.mean((1, 2, 3), keepdim=True)
    torch.testing.assert_close(diff_augment(x, color, torch.zeros(2, 6, dtype=torch.long)), v)


def test_the_cut_box_is_zeroed_and_clipped_at_the_border():
    x = images(1, 2, 8, 8, dtype=torch.float64)
    color = torch.tensor([[0.0, 1.0, 1.0]], dtype=torch.float64)
    out = diff_augment(x, color, torch.tensor([[0, 0, -2, 3, 6, 12]]))  # rows 0..2, columns 6..7
    assert (out[:, :, :3, 6:] == 0).all()
    mask = torch.ones(8, 8, dtype=torch.bool)
    mask[:3, 6:] = False
    torch.testing.assert_close(out[:, :, mask], x[:, :, mask], rtol=0, atol=0)


def test_any_integers_give_a_defined_result():
    x = images(3, 3, 6, 6)
    color = torch.tensor([[0.1, 1.2, 0.9]] * 3)
    huge = torch.tensor([[10**12, -(10**12), -(10**15), 10**15, 5, 2],    # shifted out: all 0
                         [-7, 7, 0, 0, 0, 0],                                # shifted out too
                         [0, 0, 4, 2, 10**15, -(10**15)]])                  # empty box
    x.requires_grad_()
    out = diff_augment(x, color, huge)
    assert (out[:2] == 0).all() and torch.isfinite(out).all()
    expected = reference.diff_augment(x, color, huge)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(diff_augment(x, color, huge.int()), out)
    grad_out = torch.randn_like(x)
    (grad,) = torch.autograd.grad(out, x, grad_out)
    (expected_grad,) = torch.autograd.grad(expected, x, grad_out)
    assert (grad[:2] == 0).all()  # nothing of the shifted-out samples reaches the output
    torch.testing.assert_close(grad, expected_grad)


def test_non_contiguous_input():
    x = images(4, 3, 12, 20)[:, :, :, ::2]
    color, geometry = params(4, 12, 10)
    torch.testing.assert_close(diff_augment(x, color, geometry), reference.diff_augment(x, color, geometry))


@pytest.mark.parametrize("shape", [(0, 3, 8, 8), (2, 3, 0, 8), (2, 0, 4, 4)], ids=str)
def test_empty_inputs(shape):
    x = torch.randn(shape, requires_grad=True)
    color, geometry = params(shape[0], max(shape[2], 1), max(shape[3], 1))
    out = diff_augment(x, color, geometry)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad.shape == x.shape


def test_the_value_does_not_depend_on_the_thread_count():
    x = images(64, 3, 32, 32).requires_grad_()
    color, geometry = params(64, 32, 32)
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out = diff_augment(x, color, geometry)
            results.append((out, torch.autograd.grad(out.square().sum(), x)[0]))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
def test_gradcheck_and_gradgradcheck(channels_last):
    x = images(3, 3, 6, 5, dtype=torch.float64, channels_last=channels_last).requires_grad_()
    color, geometry = params(3, 6, 5, seed=1)
    color = color.double()

    def fn(t):
        return ops.diff_augment(t, color, geometry)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    grad_out = torch.randn(3, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda g: ops.diff_augment_backward(g, color, geometry), (grad_out,))


def test_opcheck():
    color, geometry = params(3, 8, 8)
    for x in (images(3, 3, 8, 8), images(3, 3, 8, 8, dtype=torch.float64),
              images(3, 3, 8, 8, channels_last=True), images(3, 1, 8, 8, dtype=torch.bfloat16)):
        torch.library.opcheck(ops.diff_augment.default, (x.requires_grad_(), color, geometry))
        torch.library.opcheck(ops.diff_augment_backward.default, (torch.randn_like(x), color, geometry.int()))


def test_under_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    x = images(4, 3, 8, 8).requires_grad_()
    color, geometry = params(4, 8, 8)
    compiled = torch.compile(lambda t: diff_augment(t, color, geometry).square().sum(), fullgraph=True)
    value = compiled(x)
    expected = reference.diff_augment(x, color, geometry).square().sum()
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(torch.autograd.grad(value, x)[0], torch.autograd.grad(expected, x)[0])


def _bad_calls():
    # Tensors are made inside each call, so that under FakeTensorMode they are fake too.
    def x():
        return torch.randn(2, 3, 4, 4)

    def color():
        return torch.zeros(2, 3)

    def geometry():
        return torch.zeros(2, 6, dtype=torch.long)

    yield lambda: ops.diff_augment(torch.randn(2, 3, 4), color(), geometry()), "x must be a batch of images"
    yield lambda: ops.diff_augment(x().int(), color(), geometry()), "x must be float32"
    yield lambda: ops.diff_augment(x(), color().half(), geometry()), "color must be a float32 or float64 tensor"
    yield lambda: ops.diff_augment(x(), color()[:1], geometry()), r"color must have shape \(N, 3\) = \(2, 3\)"
    yield lambda: ops.diff_augment(x(), color(), geometry().float()), "geometry must be an int64 or int32 tensor"
    yield lambda: ops.diff_augment(x(), color(), geometry()[:, :4]), r"geometry must have shape \(N, 6\)"
    yield lambda: ops.diff_augment_backward(x()[0], color(), geometry()), "grad_output must be a batch of images"


@pytest.mark.parametrize(("call", "message"), list(_bad_calls()), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_is_refused_by_the_kernel_and_the_fake_kernel(call, message):
    assert_refused_by_kernel_and_fake_kernel(call, message)
