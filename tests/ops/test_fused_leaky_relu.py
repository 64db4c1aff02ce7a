"""Fused bias + LeakyReLU + gain against the reference and F.leaky_relu, in every dtype and layout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import FusedLeakyReLU, fused_leaky_relu, fused_leaky_relu_, reference
from tests.helpers import DTYPES, assert_close, reference_in_float64

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")


def away_from_kink(*shape, dtype=torch.float64):
    """Values with |v| >= 0.1, so finite differences do not straddle the kink at 0."""
    v = torch.randn(*shape, dtype=torch.float64)
    v = torch.where(v.abs() < 0.1, v.sign() * 0.1 + v, v)
    return v.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize(("slope", "gain"), [(0.2, 1.0), (0.01, 2.0**0.5)])
@pytest.mark.parametrize("shape", [(4, 6, 5, 7), (23, 6), (3, 6, 1, 1)])  # planes; rows of channels
def test_matches_reference(dtype, with_bias, slope, gain, shape):
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    bias = torch.randn(6, dtype=dtype, requires_grad=True) if with_bias else None
    out = fused_leaky_relu(x, bias, slope, gain)
    inputs = (x, bias) if with_bias else (x,)
    ref, leaves = reference_in_float64(
        lambda *t: reference.fused_leaky_relu(t[0], t[1] if with_bias else None, slope, gain), *inputs)
    assert out.dtype == dtype and out.shape == x.shape
    assert_close(out, ref, dtype)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, inputs, g)
    ref_grads = torch.autograd.grad(ref, leaves, g.double())
    assert_close(grads[0], ref_grads[0], dtype)
    if with_bias:
        # The bias gradient sums up to 140 products, each rounded to the dtype: allow for that.
        low_precision = dtype in (torch.float16, torch.bfloat16)
        tol = dict(rtol=5e-2, atol=5e-2) if low_precision else dict(rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(grads[1].double(), ref_grads[1], **tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_torch_leaky_relu(dtype):
    x = torch.randn(8, 3, 4, 4, dtype=dtype, requires_grad=True)
    bias = torch.randn(3, dtype=dtype)
    ours = fused_leaky_relu(x, bias, 0.2, 1.0)
    theirs = F.leaky_relu(x + bias.view(1, 3, 1, 1), 0.2)
    torch.testing.assert_close(ours, theirs)
    g = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(theirs, x, g)[0])


LAYOUTS = {
    "contiguous": lambda t: t,
    "channels_last": lambda t: t.contiguous(memory_format=torch.channels_last),
    "permuted_dense": lambda t: t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).transpose(2, 3),
    "sliced": lambda t: t[:, :, ::2, 1:],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("with_bias", [False, True])
def test_layouts(layout, with_bias):
    base = torch.randn(3, 5, 6, 6, requires_grad=True)
    x = LAYOUTS[layout](base)
    bias = torch.randn(5, requires_grad=True) if with_bias else None
    out = fused_leaky_relu(x, bias, 0.2, 1.5)
    ref = reference.fused_leaky_relu(x, bias, 0.2, 1.5)
    torch.testing.assert_close(out, ref)
    if layout != "sliced":  # a densely strided input keeps its strides (channels_last stays so)
        assert out.stride() == x.stride()
    g = LAYOUTS[layout](torch.randn(3, 5, 6, 6))  # a grad laid out differently from the output
    inputs = (base, bias) if with_bias else (base,)
    for got, want in zip(torch.autograd.grad(out, inputs, g), torch.autograd.grad(ref, inputs, g), strict=True):
        torch.testing.assert_close(got, want)


def test_channels_last_3d_and_two_dim_inputs():
    x = torch.randn(2, 4, 3, 3, 3).contiguous(memory_format=torch.channels_last_3d)
    b = torch.randn(4)
    torch.testing.assert_close(fused_leaky_relu(x, b), reference.fused_leaky_relu(x, b))
    x2, b2 = torch.randn(16, 9), torch.randn(9)
    torch.testing.assert_close(fused_leaky_relu(x2, b2), reference.fused_leaky_relu(x2, b2))
    x1 = torch.randn(100)
    torch.testing.assert_close(fused_leaky_relu(x1), reference.fused_leaky_relu(x1))


def test_large_input_runs_in_parallel_and_matches():
    x, b = torch.randn(16, 64, 32, 32), torch.randn(64)
    torch.testing.assert_close(fused_leaky_relu(x, b, 0.2, 1.3), reference.fused_leaky_relu(x, b, 0.2, 1.3))
    xl = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fused_leaky_relu(xl, b), reference.fused_leaky_relu(xl, b))


def test_empty_input():
    x = torch.randn(0, 4, 3, 3, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    out = fused_leaky_relu(x, b)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad.shape == x.shape and torch.equal(b.grad, torch.zeros(4))


def test_nan_and_inf_propagate_as_in_the_reference():
    x = torch.tensor([[float("nan"), float("inf"), -float("inf"), -1.0, 2.0]], requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out, ref = fused_leaky_relu(x, None, 0.2, 2.0), reference.fused_leaky_relu(x_ref, None, 0.2, 2.0)
    torch.testing.assert_close(out, ref, equal_nan=True)
    g = torch.ones_like(out)
    torch.testing.assert_close(torch.autograd.grad(out, x, g)[0],
                               torch.autograd.grad(ref, x_ref, g)[0], equal_nan=True)


def test_backward_keeps_only_the_output():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = fused_leaky_relu(x, b)
    assert len(saved) == 1 and torch.equal(saved[0], out)


@pytest.mark.parametrize("with_bias", [False, True])
def test_gradcheck_and_gradgradcheck(with_bias):
    x = away_from_kink(2, 3, 4, 4).requires_grad_()
    inputs = (x, torch.zeros(3, dtype=torch.float64, requires_grad=True)) if with_bias else (x,)

    def fn(*t):
        return fused_leaky_relu(t[0], t[1] if with_bias else None, 0.2, 1.7)

    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 0.5, 1.0])
def test_gradcheck_over_the_accepted_slopes(slope):
    x = away_from_kink(3, 4, 5).requires_grad_()
    b = torch.zeros(4, dtype=torch.float64, requires_grad=True)

    def fn(x, b):
        return fused_leaky_relu(x, b, slope, 1.3)

    assert gradcheck(fn, (x, b))
    assert gradgradcheck(fn, (x, b))


def test_third_derivative_runs_on_the_same_op():
    x = away_from_kink(5, 2).requires_grad_()
    y = fused_leaky_relu(x, None, 0.3, 2.0)
    (g1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad((g1 * x).sum(), x, create_graph=True)
    torch.testing.assert_close(g2, g1)  # d/dx sum(g1 * x) = g1 (g1 is piecewise constant)


class _SmallD(torch.nn.Module):
    """A small conv discriminator; `act` is fused_leaky_relu or its reference."""

    def __init__(self, act):
        super().__init__()
        self.act = act
        self.c1 = torch.nn.Conv2d(1, 4, 3, 2, 1, bias=False)
        self.b1 = torch.nn.Parameter(torch.randn(4) * 0.1)
        self.c2 = torch.nn.Conv2d(4, 8, 3, 2, 1, bias=False)
        self.b2 = torch.nn.Parameter(torch.randn(8) * 0.1)
        self.head = torch.nn.Linear(8 * 2 * 2, 1)

    def forward(self, x):
        h = self.act(self.c1(x), self.b1, 0.2, 2.0**0.5)
        h = self.act(self.c2(h), self.b2, 0.2, 2.0**0.5)
        return self.head(h.flatten(1))


def test_r1_penalty_through_fused_leaky_relu_matches_reference():
    fused_d = _SmallD(fused_leaky_relu).double()
    ref_d = _SmallD(reference.fused_leaky_relu).double()
    ref_d.load_state_dict(fused_d.state_dict())
    images = torch.randn(6, 1, 8, 8, dtype=torch.float64)

    def r1_and_grads(d):
        x = images.clone().requires_grad_()
        (grad_x,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
        penalty = grad_x.pow(2).flatten(1).sum(1).mean()
        # Biases only move the activation kinks, so R1's gradient w.r.t. them is zero (or unused).
        return penalty, torch.autograd.grad(penalty, list(d.parameters()), materialize_grads=True)

    penalty, grads = r1_and_grads(fused_d)
    ref_penalty, ref_grads = r1_and_grads(ref_d)
    torch.testing.assert_close(penalty, ref_penalty, rtol=1e-6, atol=1e-6)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_in_place_matches_and_keeps_autograd():
    base = torch.randn(4, 3, 5, 5, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    h = base * 2.0  # a non-leaf: in-place is allowed on it
    version = h._version
    out = fused_leaky_relu_(h, b, 0.2, 1.5)
    assert out is h and h._version > version
    ref = reference.fused_leaky_relu(base * 2.0, b, 0.2, 1.5)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    for got, want in zip(torch.autograd.grad(out, (base, b), g), torch.autograd.grad(ref, (base, b), g), strict=True):
        torch.testing.assert_close(got, want)


def test_in_place_on_non_dense_view_writes_through():
    x = torch.randn(2, 3, 6, 6)
    view = x[:, :, ::2, ::2]
    expected = reference.fused_leaky_relu(view, None, 0.2, 1.0)
    fused_leaky_relu_(view, None, 0.2, 1.0)
    torch.testing.assert_close(x[:, :, ::2, ::2], expected)


def test_in_place_on_a_leaf_that_requires_grad_is_refused():
    x = torch.randn(3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        fused_leaky_relu_(x)


def test_module():
    act = FusedLeakyReLU(5, gain=2.0)
    assert act.bias.shape == (5,) and torch.equal(act.bias, torch.zeros(5))
    x = torch.randn(2, 5, 3, 3)
    torch.testing.assert_close(act(x), reference.fused_leaky_relu(x, act.bias, 0.2, 2.0))
    assert "gain=2.0" in repr(act)
    act_inplace = FusedLeakyReLU(5, bias=False, inplace=True)
    assert act_inplace.bias is None
    y = x.clone()
    assert act_inplace(y) is y
    with pytest.raises(RuntimeError, match="gain"):
        FusedLeakyReLU(5, gain=-1.0)


def test_float32_bias_under_autocast_meets_bfloat16_activations():
    conv = torch.nn.Conv2d(3, 4, 3)
    act = FusedLeakyReLU(4)
    torch.nn.init.normal_(act.bias)
    x = torch.randn(2, 3, 8, 8)
    with torch.autocast(torch.get_default_device().type, dtype=torch.bfloat16):
        h = conv(x)
        assert h.dtype == torch.bfloat16 and act.bias.dtype == torch.float32
        out = act(h)
    assert out.dtype == torch.bfloat16
    expected = reference.fused_leaky_relu(h.double(), act.bias.double(), 0.2, 1.0)
    assert_close(out, expected, torch.bfloat16)
    out.float().sum().backward()
    assert act.bias.grad is not None and act.bias.grad.dtype == torch.float32
    with pytest.raises(RuntimeError, match=r"input is .*but bias is"):
        fused_leaky_relu(h, act.bias)  # outside autocast a mismatch is an error
