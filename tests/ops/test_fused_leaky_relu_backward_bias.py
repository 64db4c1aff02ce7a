"""fused_leaky_relu_backward_bias: grad_input and the per-channel bias gradient in one pass, against
the float64 reference and the plain backward op, in every dtype and layout; its own derivative,
fake kernel, torch.compile, and results that do not depend on the thread count."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import fused_leaky_relu, fused_leaky_relu_, reference
from tests.helpers import DTYPES, TOLERANCES, assert_close

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

ops = torch.ops.pygan

def _channels_last(t: torch.Tensor) -> torch.Tensor:
    if t.dim() in (4, 5):
        return t.contiguous(memory_format=torch.channels_last if t.dim() == 4 else torch.channels_last_3d)
    return t


def _sliced(t: torch.Tensor) -> torch.Tensor:
    """The same values as a view that is not dense (every other element of a wider tensor)."""
    wide = torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype)
    return wide[..., ::2].copy_(t)


LAYOUTS = {
    "contiguous": lambda t: t,
    "channels_last": _channels_last,
    "permuted_dense": lambda t: t.transpose(-1, -2).contiguous().transpose(-1, -2),
    "sliced": _sliced,
}
# small planes; rows of channels (2-D, 1x1 spatial); 5-D; no vector multiples; a plane of 323 values
SHAPES = [(4, 6, 5, 7), (23, 6), (3, 6, 1, 1), (2, 5, 3, 4, 3), (3, 37, 2, 3), (5, 130, 3, 3), (2, 3, 17, 19)]


def _output_and_grad(shape, dtype, layout, slope, gain, seed=0):
    g = torch.Generator(torch.get_default_device()).manual_seed(seed)  # PYGAN_TEST_DEVICE's device
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    b = torch.randn(shape[1], generator=g, dtype=torch.float64)
    out = reference.fused_leaky_relu(x, b, slope, gain).to(dtype)
    grad = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    return LAYOUTS[layout](out), LAYOUTS[layout](grad)


def _reference(grad, out, slope, gain):
    out64 = out.double()
    g64 = grad.double() * torch.full_like(out64, gain * slope).masked_fill_(out64 > 0, gain)
    dims = [0, *range(2, out.dim())]
    return g64, g64.sum(dims)


def _kernel_layout(t):
    if t.is_contiguous():
        return t
    if (t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)) or \
            (t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d)):
        return t
    return t.contiguous()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("slope", "gain"), [(0.2, 1.0), (0.0, 2.0**0.5)])
def test_matches_the_reference_and_the_plain_backward(dtype, layout, shape, slope, gain):
    out, grad = _output_and_grad(shape, dtype, layout, slope, gain)
    grad_input, grad_bias = ops.fused_leaky_relu_backward_bias(grad, out, slope, gain)
    want_input, want_bias = _reference(grad, out, slope, gain)
    assert grad_input.dtype == dtype and grad_bias.dtype == dtype and grad_bias.shape == (shape[1],)
    assert grad_input.stride() == _kernel_layout(out).stride()  # channels-last stays channels-last
    assert_close(grad_input, want_input, dtype)
    # the same elementwise formula as the plain backward op, to the bit
    assert torch.equal(grad_input, ops.fused_leaky_relu_backward(grad, out, slope, gain))
    # the sum is taken before rounding to the dtype: one rounding of a sum of |terms|
    dims = [0, *range(2, out.dim())]
    scale = want_input.abs().sum(dims).max().item()
    tol = TOLERANCES[dtype]
    torch.testing.assert_close(grad_bias.double(), want_bias, rtol=tol["rtol"], atol=tol["atol"] * max(1.0, scale))


def test_long_channels_sum_to_float32_precision():
    # 64 x 64 x 32 x 32: 65,536 values per channel, summed in blocks widened to double
    out, grad = _output_and_grad((64, 8, 32, 32), torch.float32, "contiguous", 0.2, 1.0)
    for layout in ("contiguous", "channels_last"):
        o, g = LAYOUTS[layout](out), LAYOUTS[layout](grad)
        _, grad_bias = ops.fused_leaky_relu_backward_bias(g, o, 0.2, 1.0)
        _, want = _reference(g, o, 0.2, 1.0)
        torch.testing.assert_close(grad_bias.double(), want, rtol=1e-6, atol=1e-6 * 256)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize(("shape", "layout"), [((16, 64, 32, 32), "contiguous"), ((16, 64, 32, 32), "channels_last"),
                                               ((64, 512, 4, 4), "contiguous"), ((64, 512, 4, 4), "channels_last"),
                                               ((64, 300, 2, 2), "contiguous"), ((40000, 3), "contiguous"),
                                               ((300, 2049), "contiguous")], ids=str)
def test_results_do_not_depend_on_the_thread_count(dtype, shape, layout):
    out, grad = _output_and_grad(shape, dtype, layout, 0.2, 1.3, seed=1)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(ops.fused_leaky_relu_backward_bias(grad, out, 0.2, 1.3))
    finally:
        torch.set_num_threads(before)
    for grad_input, grad_bias in results[1:]:
        assert torch.equal(grad_input, results[0][0])
        assert torch.equal(grad_bias, results[0][1])  # bitwise: fixed blocks in a fixed order
    _, want = _reference(grad, out, 0.2, 1.3)
    torch.testing.assert_close(results[0][1].double(), want, rtol=2e-2, atol=2e-2 * shape[0])


@pytest.mark.parametrize("shape", [(0, 4, 3, 3), (2, 0, 3), (2, 3, 0), (0, 5)], ids=str)
def test_empty_tensors(shape):
    out, grad = torch.randn(shape), torch.randn(shape)
    grad_input, grad_bias = ops.fused_leaky_relu_backward_bias(grad, out, 0.2, 1.0)
    assert grad_input.shape == shape
    assert torch.equal(grad_bias, torch.zeros(shape[1]))
    x = torch.randn(shape, requires_grad=True)
    b = torch.randn(shape[1], requires_grad=True)
    fused_leaky_relu(x, b).sum().backward()
    assert x.grad.shape == shape and torch.equal(b.grad, torch.zeros(shape[1]))


def test_refuses_outputs_without_a_channel_dim_and_bad_parameters():
    with pytest.raises(RuntimeError, match="output needs at least 2 dims"):
        ops.fused_leaky_relu_backward_bias(torch.randn(5), torch.randn(5), 0.2, 1.0)
    with pytest.raises(RuntimeError, match="grad_output has shape"):
        ops.fused_leaky_relu_backward_bias(torch.randn(2, 3), torch.randn(2, 4), 0.2, 1.0)
    with pytest.raises(RuntimeError, match="negative_slope must be a finite number >= 0"):
        ops.fused_leaky_relu_backward_bias(torch.randn(2, 3), torch.randn(2, 3), -0.1, 1.0)
    with pytest.raises(RuntimeError, match=r"output is (torch\.float32|Float) but grad_output is"):
        ops.fused_leaky_relu_backward_bias(torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3), 0.2, 1.0)


def _away_from_zero(*shape):
    v = torch.randn(*shape, dtype=torch.float64)
    return torch.where(v.abs() < 0.1, v.sign() * 0.1 + v, v)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gradcheck_and_gradgradcheck_of_the_op(layout):
    grad = LAYOUTS[layout](torch.randn(2, 3, 4, 4, dtype=torch.float64)).requires_grad_()
    out = LAYOUTS[layout](_away_from_zero(2, 3, 4, 4)).requires_grad_()

    def fn(g, o):
        return ops.fused_leaky_relu_backward_bias(g, o, 0.2, 1.7)

    assert gradcheck(fn, (grad, out))
    assert gradgradcheck(fn, (grad, out))


@pytest.mark.parametrize("in_place", [False, True])
def test_gradgradcheck_through_the_activation_with_a_bias(in_place):
    x = _away_from_zero(3, 4, 5).requires_grad_()
    b = torch.zeros(4, dtype=torch.float64, requires_grad=True)

    def fn(x, b):
        if in_place:
            return fused_leaky_relu_(x * 1.0, b, 0.1, 1.3)
        return fused_leaky_relu(x, b, 0.1, 1.3)

    assert gradcheck(fn, (x, b))
    assert gradgradcheck(fn, (x, b))


def _ops_run(fn) -> set[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return {e.name for e in prof.events()}


def test_the_backward_runs_one_op_when_the_bias_needs_a_gradient():
    x = torch.randn(4, 3, 6, 6, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    g = torch.randn(4, 3, 6, 6)
    out = fused_leaky_relu(x, b)
    ran = _ops_run(lambda: out.backward(g))
    assert "pygan::fused_leaky_relu_backward_bias" in ran and "aten::sum" not in ran
    out = fused_leaky_relu(x, b.detach())
    ran = _ops_run(lambda: out.backward(g))
    assert "pygan::fused_leaky_relu_backward" in ran and "pygan::fused_leaky_relu_backward_bias" not in ran


def test_opcheck():
    cl = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    for grad, out in [(torch.randn(2, 3, 4), torch.randn(2, 3, 4)), (cl.clone(), cl.clone()),
                      (torch.randn(5, 6, dtype=torch.bfloat16), torch.randn(5, 6, dtype=torch.bfloat16)),
                      (torch.randn(2, 3, 4, 8)[..., ::2], torch.randn(2, 3, 4, 4))]:
        torch.library.opcheck(ops.fused_leaky_relu_backward_bias.default,
                              (grad, out.requires_grad_(), 0.2, 1.0))


@pytest.mark.parametrize("channels_last", [False, True])
def test_torch_compile_fullgraph_traces_the_op(channels_last):
    torch._dynamo.reset()
    x = torch.randn(4, 5, 6, 6)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    b = torch.randn(5, requires_grad=True)
    g = torch.randn(4, 5, 6, 6)
    # aot_eager traces forward and backward through the fake kernels, as inductor does
    compiled = torch.compile(lambda x, b: fused_leaky_relu(x, b, 0.2, 1.3), fullgraph=True, backend="aot_eager")
    got = torch.autograd.grad(compiled(x, b), (x, b), g)
    want = torch.autograd.grad(fused_leaky_relu(x, b, 0.2, 1.3), (x, b), g)
    for a, w in zip(got, want, strict=True):
        torch.testing.assert_close(a, w)
    direct = torch.compile(ops.fused_leaky_relu_backward_bias, fullgraph=True, backend="aot_eager")
    out = fused_leaky_relu(x, b, 0.2, 1.3).detach()
    for a, w in zip(direct(g, out, 0.2, 1.3), ops.fused_leaky_relu_backward_bias(g, out, 0.2, 1.3), strict=True):
        assert torch.equal(a, w)
