"""The fused BatchNorm (batch statistics) + LeakyReLU op against a float64 reference, in every
dtype and layout, its derivatives (gradcheck, gradgradcheck), the module against nn.BatchNorm2d,
and its behaviour under autocast."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import BatchNormLeakyReLU, batch_norm_leaky_relu, reference
from tests.helpers import DTYPES, assert_close

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")


def _layouts():
    yield "nchw", lambda: torch.randn(6, 5, 7, 3)
    yield "channels_last", lambda: torch.randn(6, 5, 7, 3).contiguous(memory_format=torch.channels_last)
    yield "wide_channels_last", lambda: torch.randn(4, 40, 3, 5).contiguous(memory_format=torch.channels_last)
    yield "two_dim", lambda: torch.randn(33, 17)
    yield "three_dim", lambda: torch.randn(4, 3, 50)
    yield "channels_last_3d", lambda: torch.randn(2, 6, 3, 4, 5).contiguous(memory_format=torch.channels_last_3d)
    yield "permuted", lambda: torch.randn(5, 6, 4, 3).permute(0, 2, 1, 3)  # dense, neither layout


LAYOUTS = dict(_layouts())


def _reference64(x, weight, bias, grad, slope=0.2):
    leaves = [t.detach().double().requires_grad_() if t is not None else None for t in (x, weight, bias)]
    out, mean, invstd = reference.batch_norm_leaky_relu(leaves[0], leaves[1], leaves[2], 1e-5, slope)
    wrt = [t for t in leaves if t is not None]
    return out, mean, invstd, torch.autograd.grad(out, wrt, grad.double())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_matches_the_reference(dtype, layout):
    torch.manual_seed(0)
    x = (LAYOUTS[layout]() * 3 + 1).to(dtype).requires_grad_()
    param_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    w = torch.randn(x.shape[1], dtype=param_dtype, requires_grad=True)
    b = torch.randn(x.shape[1], dtype=param_dtype, requires_grad=True)
    out, mean, invstd = batch_norm_leaky_relu(x, w, b, 1e-5, 0.2)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, w, b), grad)
    ref_out, ref_mean, ref_invstd, ref_grads = _reference64(x, w, b, grad)
    assert out.dtype == dtype and mean.dtype == invstd.dtype == param_dtype
    assert out.stride() == (x.stride() if layout != "permuted" else x.contiguous().stride())
    assert_close(out, ref_out, dtype)
    stat_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    assert_close(mean, ref_mean, stat_dtype)
    torch.testing.assert_close(invstd.double(), ref_invstd, rtol=1e-5 if stat_dtype == torch.float32 else 1e-12,
                               atol=0)
    for g, r in zip(got, ref_grads, strict=True):
        # Gradients of the parameters are sums over the batch: relative to their size.
        assert_close(g / r.abs().max(), r / r.abs().max(), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_without_weight_and_bias_and_with_other_slopes(dtype):
    x = torch.randn(8, 4, 5, 5).to(dtype).requires_grad_()
    for slope in (0.0, 0.2, -0.5, 1.0):
        out, _, _ = batch_norm_leaky_relu(x, None, None, 1e-3, slope)
        ref = reference.batch_norm_leaky_relu(x.detach().double(), None, None, 1e-3, slope)[0]
        assert_close(out, ref, dtype)
        g = torch.randn_like(out)
        (gx,) = torch.autograd.grad(out, x, g)
        ref_x = x.detach().double().requires_grad_()
        ref_out = reference.batch_norm_leaky_relu(ref_x, None, None, 1e-3, slope)[0]
        (rx,) = torch.autograd.grad(ref_out, ref_x, g.double())
        assert_close(gx / rx.abs().max(), rx / rx.abs().max(), dtype)


def test_statistics_are_exact_for_large_offsets():
    # Two-pass statistics: no cancellation when the mean dwarfs the spread.
    x = torch.randn(64, 3, 16, 16, dtype=torch.float64).mul(1e-2).add(1e3).float()
    for t in (x, x.contiguous(memory_format=torch.channels_last)):
        _, mean, invstd = batch_norm_leaky_relu(t)
        var, ref_mean = torch.var_mean(t.double(), (0, 2, 3), correction=0)
        torch.testing.assert_close(mean.double(), ref_mean, rtol=1e-6, atol=0)
        torch.testing.assert_close(invstd.double(), torch.rsqrt(var + 1e-5), rtol=1e-4, atol=0)


def _randn64_drawn_on_cpu(*shape):
    """The CPU's values for the seed on any device, so the kink check below holds under PYGAN_TEST_DEVICE."""
    return torch.randn(*shape, dtype=torch.float64, device="cpu").to(torch.get_default_device())


def _pre_activation_away_from_zero(x, w, b):
    z = nn.functional.batch_norm(x, None, None, w, b, True, 0.0, 1e-5)
    return z.abs().min().item() > 1e-3


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_gradcheck_and_gradgradcheck(affine, channels_last):
    torch.manual_seed(3)
    x = _randn64_drawn_on_cpu(3, 4, 3, 3)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = _randn64_drawn_on_cpu(4) if affine else None
    b = _randn64_drawn_on_cpu(4) if affine else None
    assert _pre_activation_away_from_zero(x, w, b)  # finite differences must not cross the kink
    inputs = tuple(t.requires_grad_() for t in (x, w, b) if t is not None)

    def fn(*t):
        return batch_norm_leaky_relu(t[0], t[1] if affine else None, t[2] if affine else None, 1e-5, 0.2)[0]

    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("slope", [-1.0, -0.5, -0.01, 0.0, 0.2, 1.0])
def test_gradcheck_over_negative_and_positive_slopes(slope):
    # The backward recomputes the pre-activation from the input, so any slope sign is right.
    torch.manual_seed(5)
    x = _randn64_drawn_on_cpu(4, 3, 5)
    w, b = _randn64_drawn_on_cpu(3), _randn64_drawn_on_cpu(3)
    assert _pre_activation_away_from_zero(x, w, b)
    inputs = tuple(t.requires_grad_() for t in (x, w, b))

    def fn(x, w, b):
        return batch_norm_leaky_relu(x, w, b, 1e-5, slope)[0]

    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "two_dim"])
def test_a_zero_variance_channel_normalises_to_exactly_zero(dtype, layout):
    # x == mean exactly, so the pre-activation is exactly the bias: with bias 0 and ReLU the output
    # and the input gradient are exactly 0 (plain BatchNorm + ReLU passes up to +-invstd/2 there,
    # from rounding noise around 0 whose sign picks the ReLU mask value by value).
    torch.manual_seed(0)
    shape = (37, 3) if layout == "two_dim" else (4, 3, 5, 5)
    for value in (3.0, 0.1, -7.25, 1e3):
        x = torch.randn(shape, dtype=torch.float64)
        x[:, 1] = value
        x = x.to(dtype)
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        x.requires_grad_()
        g = torch.randn(shape, dtype=dtype)
        for slope in (0.0, 0.2):
            out, mean, invstd = batch_norm_leaky_relu(x, None, None, 1e-5, slope)
            (grad,) = torch.autograd.grad(out, x, g)
            assert mean[1].item() == float(x.detach()[0, 1].flatten()[0])
            assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1]))
            # d leaky_relu(0) = slope: the channel's gradient is slope * invstd * (g - mean(g))
            g1 = g[:, 1].double()
            expected = slope * invstd[1].double() * (g1 - g1.mean())
            torch.testing.assert_close(grad[:, 1].double(), expected, rtol=2e-2, atol=1e-6)
            if slope == 0.0:
                assert torch.equal(grad[:, 1], torch.zeros_like(grad[:, 1]))


def test_a_zero_variance_channel_under_a_bias_passes_the_normalisation_gradient():
    x = torch.randn(6, 2, 4, dtype=torch.float64)
    x[:, 0] = 2.5
    x.requires_grad_()
    w, b = torch.tensor([1.5, 1.0], dtype=torch.float64), torch.tensor([0.3, 0.0], dtype=torch.float64)
    g = torch.randn(6, 2, 4, dtype=torch.float64)
    out, _, invstd = batch_norm_leaky_relu(x, w, b, 1e-5, 0.0)
    (grad,) = torch.autograd.grad(out, x, g)
    assert torch.equal(out[:, 0], torch.full_like(out[:, 0], 0.3))
    torch.testing.assert_close(grad[:, 0], 1.5 * invstd[0] * (g[:, 0] - g[:, 0].mean()))


def test_results_do_not_depend_on_the_thread_count():
    x = torch.randn(16, 64, 12, 12, requires_grad=True)
    w, b = torch.randn(64, requires_grad=True), torch.randn(64, requires_grad=True)
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            for t in (x, x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()):
                out, mean, invstd = batch_norm_leaky_relu(t, w, b)
                grads = torch.autograd.grad(out, (t, w, b), torch.ones_like(out))
                results.append((out, mean, invstd, *grads))
    finally:
        torch.set_num_threads(threads)
    for i in range(2, len(results)):  # the same layout at another thread count
        for a, c in zip(results[i % 2], results[i], strict=True):
            assert torch.equal(a, c)


def test_backward_keeps_only_the_input_and_per_channel_tensors():
    x = torch.randn(8, 16, 8, 8, requires_grad=True)
    w, b = torch.randn(16, requires_grad=True), torch.randn(16, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        batch_norm_leaky_relu(x, w, b)
    big = [t for t in saved if t.numel() > 16]
    assert len(big) == 1 and torch.equal(big[0], x)


@pytest.mark.parametrize("channels_last", [False, True])
def test_module_matches_batchnorm_then_leaky_relu(channels_last):
    torch.manual_seed(0)
    fused, plain = BatchNormLeakyReLU(8, negative_slope=0.2), nn.BatchNorm2d(8)
    with torch.no_grad():
        fused.weight.normal_(1.0, 0.2)
        fused.bias.normal_(0.0, 0.2)
    plain.load_state_dict(fused.state_dict())  # same parameters, buffers and keys
    for step in range(3):
        x = torch.randn(6, 8, 5, 5) * 2 + step
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        y1, y2 = fused(x1), nn.functional.leaky_relu(plain(x2), 0.2)
        torch.testing.assert_close(y1, y2, rtol=1e-5, atol=1e-5)
        g = torch.randn_like(y1)
        for a, c in zip(torch.autograd.grad(y1, (x1, fused.weight, fused.bias), g),
                        torch.autograd.grad(y2, (x2, plain.weight, plain.bias), g), strict=True):
            torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-5)
    for name, buffer in plain.named_buffers():
        torch.testing.assert_close(getattr(fused, name), buffer, rtol=1e-5, atol=1e-6)
    fused.eval()
    plain.eval()
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(fused(x), nn.functional.leaky_relu(plain(x), 0.2))


def test_module_refuses_the_wrong_channel_count():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 8, \.\.\.\)"):
        BatchNormLeakyReLU(8)(torch.randn(2, 4, 3, 3))


def test_bfloat16_activations_under_autocast_meet_float32_parameters():
    layer = BatchNormLeakyReLU(16)
    conv = nn.Conv2d(3, 16, 3)
    x = torch.randn(4, 3, 10, 10)
    with torch.autocast(torch.get_default_device().type, dtype=torch.bfloat16):
        h = conv(x)
        y = layer(h)
    assert h.dtype == y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert layer.weight.grad.dtype == torch.float32 and conv.weight.grad is not None
    ref = nn.functional.leaky_relu(nn.functional.batch_norm(h.float(), None, None, layer.weight, layer.bias,
                                                            True), 0.2)
    assert_close(y, ref, torch.bfloat16)
