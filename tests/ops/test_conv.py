"""pygan.ops.Conv2d / ConvTranspose2d: torch's layers with pygan's weight gradient where the rule
picks it. Same outputs and gradients (to any order) as nn.Conv2d / nn.ConvTranspose2d, the same
state_dict, torch's path under autocast, torch.compile and "aten", and the rule by CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pygan._extension import compiled_for
from pygan.ops import conv
from pygan.ops.conv import Conv2d, ConvTranspose2d, plain_conv, set_weight_grad

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

# (in, out, kernel, stride, padding, output_padding, bias): DCGAN's layers (the 3-channel ones take
# oneDNN's weight gradient, below MIN_CHANNELS), a biased head, an output padding.
LAYERS = [(32, 48, 4, 2, 1, 0, False), (3, 32, 4, 2, 1, 0, False), (32, 3, 4, 2, 1, 0, False),
          (40, 20, 4, 1, 0, 0, True), (24, 16, 3, 2, 1, 1, True)]


def _pair(transposed: bool, spec, dtype=torch.float64):
    c_in, c_out, k, s, p, op, bias = spec
    torch.manual_seed(0)
    if transposed:
        ours = ConvTranspose2d(c_in, c_out, k, s, p, output_padding=op, bias=bias)
        plain = nn.ConvTranspose2d(c_in, c_out, k, s, p, output_padding=op, bias=bias)
    else:
        ours, plain = Conv2d(c_in, c_out, k, s, p, bias=bias), nn.Conv2d(c_in, c_out, k, s, p, bias=bias)
    plain.load_state_dict(ours.state_dict())
    ours.weight_grad = "pygan"
    return ours.to(dtype), plain.to(dtype)


def _grads(layer, x, create_graph=False):
    out = layer(x)
    leaves = [x, *layer.parameters()]
    return out, torch.autograd.grad(out, leaves, torch.ones_like(out) * 0.7, create_graph=create_graph)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("spec", LAYERS, ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_outputs_and_gradients_match_torch_layers(transposed, spec, dtype):
    ours, plain = _pair(transposed, spec, dtype)
    x = torch.randn(3, spec[0], 9, 8, dtype=dtype).contiguous(memory_format=torch.channels_last).requires_grad_()
    out, grads = _grads(ours, x)
    ref_out, ref_grads = _grads(plain, x)
    assert out.grad_fn.name() == "_ConvolutionBackward"
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else {}
    torch.testing.assert_close(out, ref_out, **tol)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("transposed", [False, True])
def test_a_penalty_on_the_input_gradient_trains_the_weights_as_through_torch_layers(transposed):
    # R1 differentiates D's input gradient again: the backward must itself be differentiable
    ours, plain = _pair(transposed, LAYERS[0])
    x = torch.randn(2, 32, 8, 8, dtype=torch.float64, requires_grad=True)

    def penalty_grads(layer):
        (gx,) = torch.autograd.grad(layer(x).square().sum(), x, create_graph=True)
        return torch.autograd.grad(gx.square().sum(), [x, *layer.parameters()])

    for a, b in zip(penalty_grads(ours), penalty_grads(plain), strict=True):
        torch.testing.assert_close(a, b)


def test_state_dicts_are_torch_layers_and_plain_conv_gives_torch_types():
    ours, plain = _pair(False, LAYERS[3])
    assert ours.state_dict().keys() == plain.state_dict().keys()
    back = plain_conv(ours)
    assert type(back) is nn.Conv2d and type(plain_conv(ConvTranspose2d(2, 3, 4))) is nn.ConvTranspose2d
    torch.testing.assert_close(back.weight, ours.weight)
    assert back.weight is not ours.weight  # a copy: the plain step trains its own weights
    relu = nn.ReLU()
    assert type(plain_conv(relu)) is nn.ReLU


def test_torch_path_under_autocast_without_grad_and_with_aten():
    ours, _ = _pair(False, LAYERS[0], torch.float32)
    x = torch.randn(2, 32, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert ours(x).grad_fn.name() != "_ConvolutionBackward"
    with torch.no_grad():
        assert ours(x).grad_fn is None
    set_weight_grad(ours, "aten")
    assert ours(x).grad_fn.name() == "ConvolutionBackward0"
    with pytest.raises(ValueError, match="weight_grad must be one of auto, pygan, aten, got 'fast'"):
        set_weight_grad(ours, "fast")


@pytest.mark.slow
def test_torch_compile_compiles_the_layer_as_torch_s_own():
    torch._dynamo.reset()
    ours, plain = _pair(False, LAYERS[0], torch.float32)
    x = torch.randn(2, 32, 8, 8)
    torch.testing.assert_close(torch.compile(ours, fullgraph=True)(x), plain(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("capability, path", [("AVX2", "pygan"), ("DEFAULT", "pygan"), ("AVX512", "aten")])
def test_the_rule_takes_pygan_s_weight_gradient_without_avx512(monkeypatch, capability, path):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    conv.weight_grad_rule.cache_clear()
    try:
        assert conv.weight_grad_rule()[0] == path
        layer = Conv2d(32, 48, 4, 2, 1)
        out = layer(torch.randn(2, 32, 8, 8))
        assert (out.grad_fn.name() == "_ConvolutionBackward") == (path == "pygan")
    finally:
        conv.weight_grad_rule.cache_clear()


@pytest.mark.parametrize("transposed", [False, True])
def test_flop_counter_counts_pygan_s_weight_gradient_as_torch_s(transposed):
    # FlopCounterMode cannot see the GEMM inside the C++ kernel; the op's registered formula must
    # give the count torch gives its own weight gradient.
    from torch.utils.flop_counter import FlopCounterMode

    ours, plain = _pair(transposed, LAYERS[0], torch.float32)
    x = torch.randn(2, 32, 8, 8, requires_grad=True)
    counts = []
    for layer in (ours, plain):
        with FlopCounterMode(display=False) as counter:
            out = layer(x)
            out.sum().backward()
        counts.append(counter.get_total_flops())
        if layer is ours:  # the count came through pygan's weight gradient
            assert out.grad_fn.name() == "_ConvolutionBackward" and layer.weight.grad is not None
    assert counts[0] == counts[1] > 0
