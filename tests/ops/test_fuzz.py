"""Hypothesis fuzz of every fused op against its pure-PyTorch reference (computed in float64).

Shapes from 0-D to 5-D with 1-element and prime sizes; every dtype; slopes, gains, labels and
reductions over their accepted ranges; contiguous, channels-last, strided and permuted inputs;
forward and backward. Deterministic (derandomized) and bounded: PYGAN_FUZZ_EXAMPLES examples per
op (default 200), so the file takes a few seconds; raise it to fuzz longer.
"""

from __future__ import annotations

import math
import os

import pytest
import torch

from pygan._extension import compiled_for
from pygan.ops import (
    batch_norm_leaky_relu,
    discriminator_loss,
    fused_leaky_relu,
    fused_leaky_relu_,
    generator_loss,
    reference,
)
from tests.helpers import DTYPES, TOLERANCES

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

FUZZ = settings(max_examples=int(os.environ.get("PYGAN_FUZZ_EXAMPLES", "200")), deadline=None,
                derandomize=True, database=None, print_blob=True)
SIZES = [1, 2, 3, 5, 7, 11, 13, 17]  # 1 and primes: no size is a multiple of a vector width
MAX_NUMEL = 2048
LAYOUTS = ["contiguous", "channels_last", "strided", "permuted"]


@st.composite
def shapes(draw, min_dims: int = 0, max_dims: int = 5) -> tuple[int, ...]:
    dims, budget = [], MAX_NUMEL
    for _ in range(draw(st.integers(min_dims, max_dims))):
        size = draw(st.sampled_from([s for s in SIZES if s <= budget]))
        dims.append(size)
        budget //= size
    return tuple(dims)


def make_input(shape: tuple[int, ...], dtype: torch.dtype, layout: str, seed: int, scale: float = 1.0) -> torch.Tensor:
    """A tensor of `shape` laid out as asked (channels-last only for 4-D/5-D; else contiguous)."""
    g = torch.Generator(torch.get_default_device()).manual_seed(seed)  # PYGAN_TEST_DEVICE's device

    def randn(*s):
        return (torch.randn(s, generator=g, dtype=torch.float64) * scale).to(dtype)

    if layout == "channels_last" and len(shape) in (4, 5):
        fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
        return randn(*shape).contiguous(memory_format=fmt)
    if layout == "strided" and len(shape) >= 1:
        return randn(*shape[:-1], 2 * shape[-1])[..., ::2]  # not dense
    if layout == "permuted" and len(shape) >= 2:
        return randn(*shape[:-2], shape[-1], shape[-2]).transpose(-1, -2)  # dense, no standard layout
    return randn(*shape)


def assert_matches(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, what: str,
                   scale: float | None = None) -> None:
    """`actual` against the float64 reference rounded to `dtype`, with the dtype's tolerance, the
    absolute part scaled by the reference's magnitude (BatchNorm gradients cancel), or by `scale`,
    the magnitude of the terms a result sums."""
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {dtype}"
    held = expected.detach().to(dtype).double()
    finite = held[torch.isfinite(held)]
    if scale is None:
        scale = finite.abs().max().item() if finite.numel() else 1.0
    scale = max(1.0, scale)
    tol = TOLERANCES[dtype]
    torch.testing.assert_close(actual.detach().double(), held, rtol=tol["rtol"], atol=tol["atol"] * scale,
                               equal_nan=True, msg=lambda m: f"{what}: {m}")


def leaves64(*tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    return [None if t is None else t.detach().double().requires_grad_() for t in tensors]


def grads(out: torch.Tensor, inputs: list[torch.Tensor | None], grad: torch.Tensor) -> list[torch.Tensor | None]:
    wanted = [t for t in inputs if t is not None]
    found = iter(torch.autograd.grad(out, wanted, grad))
    return [None if t is None else next(found) for t in inputs]


slopes = st.one_of(st.just(0.0), st.floats(0.0, 1.0), st.floats(1.0, 10.0))
gains = st.floats(-3.0, 2.0).map(lambda e: 10.0**e)  # 0.001 .. 100


@FUZZ
@given(shape=shapes(), dtype=st.sampled_from(DTYPES), layout=st.sampled_from(LAYOUTS), with_bias=st.booleans(),
       slope=slopes, gain=gains, in_place=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_fused_leaky_relu_matches_the_reference(shape, dtype, layout, with_bias, slope, gain, in_place, seed):
    with_bias = with_bias and len(shape) >= 2
    x = make_input(shape, dtype, layout, seed)
    bias = make_input((shape[1],), dtype, "contiguous", seed + 1) if with_bias else None
    x64, b64 = leaves64(x, bias)
    expected = reference.fused_leaky_relu(x64, b64, slope, gain)
    inputs = [x.requires_grad_(), None if bias is None else bias.requires_grad_()]
    if in_place:
        out = x.clone()
        fused_leaky_relu_(out, bias, slope, gain)
    else:
        out = fused_leaky_relu(x, bias, slope, gain)
    assert out.shape == x.shape
    assert_matches(out, expected, dtype, "output")
    g = make_input(shape, dtype, "contiguous", seed + 2)
    (got_x, got_b), (want_x, want_b) = grads(out, inputs, g), grads(expected, [x64, b64], g.double())
    assert_matches(got_x, want_x, dtype, "grad input")
    if with_bias:
        # The bias gradient sums the input gradient, rounded to the dtype, over all but dim 1.
        dims = [d for d in range(want_x.dim()) if d != 1]
        assert_matches(got_b, want_b, dtype, "grad bias", scale=want_x.abs().sum(dims).max().item())


@FUZZ
@given(shape=shapes(min_dims=2), dtype=st.sampled_from(DTYPES), layout=st.sampled_from(LAYOUTS),
       affine=st.booleans(), float32_params=st.booleans(), slope=st.floats(-1.0, 1.0),
       eps=st.sampled_from([1e-5, 1e-3, 0.1]), seed=st.integers(0, 2**31 - 1))
def test_batch_norm_leaky_relu_matches_the_reference(shape, dtype, layout, affine, float32_params, slope, eps, seed):
    hypothesis.assume(math.prod(shape) // shape[1] > 1)  # batch statistics need 2 values per channel
    x = make_input(shape, dtype, layout, seed, scale=3.0)
    low = dtype in (torch.float16, torch.bfloat16)
    param_dtype = torch.float32 if low and float32_params else dtype  # as autocast passes them
    w = make_input((shape[1],), param_dtype, "contiguous", seed + 1) if affine else None
    b = make_input((shape[1],), param_dtype, "contiguous", seed + 2) if affine else None
    x64, w64, b64 = leaves64(x, w, b)
    expected, mean64, invstd64 = reference.batch_norm_leaky_relu(x64, w64, b64, eps, slope)
    # The kernels hold the statistics in float32 (float64 for float64): x - mean then carries an
    # error of about eps * |mean|, which invstd magnifies by `condition`, so the tolerances scale
    # with it, and a pre-activation closer to 0 than that error has no defined activation mask.
    stats = torch.float64 if dtype == torch.float64 else torch.float32
    channel = [1, -1] + [1] * (len(shape) - 2)
    weight = w64.detach().abs().view(channel) if affine else torch.ones(shape[1], dtype=torch.float64).view(channel)
    xhat = (x64.detach() - mean64.view(channel)) * invstd64.view(channel)
    condition = 1.0 + (mean64.abs().view(channel) * invstd64.view(channel) * weight).max().item()
    z = xhat * weight * (w64.detach().sign().view(channel) if affine else 1.0)
    if affine:
        z = z + b64.detach().view(channel)
    hypothesis.assume(z.abs().min().item() > 64 * torch.finfo(stats).eps * condition)
    inputs = [t if t is None else t.requires_grad_() for t in (x, w, b)]
    out, mean, invstd = batch_norm_leaky_relu(x, w, b, eps, slope)
    assert out.shape == x.shape
    assert_matches(out, expected, dtype, "output", scale=max(expected.abs().max().item(), condition))
    assert_matches(mean, mean64, stats, "mean")
    assert_matches(invstd, invstd64, stats, "invstd")
    g = make_input(shape, dtype, "contiguous", seed + 3)
    (got_x, got_w, got_b), (want_x, want_w, want_b) = grads(out, inputs, g), grads(expected, [x64, w64, b64],
                                                                                 g.double())
    # dx = scale * (dz - mean(dz) - xhat * mean(dz * xhat)) cancels (to exactly 0 for 2 values per
    # channel under ReLU): its error is relative to the terms, invstd * |weight * dz|.
    terms = (invstd64.view(channel) * weight * g.double().abs()).max().item() * condition
    assert_matches(got_x, want_x, dtype, "grad input", scale=max(terms, want_x.abs().max().item()))
    if affine:
        reduce = [d for d in range(len(shape)) if d != 1]
        sums = (g.double().abs() * (1.0 + xhat.abs())).sum(reduce).max().item() * condition
        assert_matches(got_w, want_w, param_dtype, "grad weight", scale=sums)
        assert_matches(got_b, want_b, param_dtype, "grad bias", scale=sums)


reductions = st.sampled_from(["mean", "sum", "none"])
logit_scales = st.sampled_from([1.0, 30.0, 1e4])  # up to saturated logits


@FUZZ
@given(real_shape=shapes(), fake_shape=shapes(), dtype=st.sampled_from(DTYPES), layout=st.sampled_from(LAYOUTS),
       reduction=reductions, real_label=st.one_of(st.just(1.0), st.floats(0.0, 1.0)), scale=logit_scales,
       seed=st.integers(0, 2**31 - 1))
def test_discriminator_loss_matches_the_reference(real_shape, fake_shape, dtype, layout, reduction, real_label,
                                                  scale, seed):
    if reduction == "none":
        fake_shape = real_shape
    real = make_input(real_shape, dtype, layout, seed, scale)
    fake = make_input(fake_shape, dtype, layout, seed + 1, scale)
    real64, fake64 = leaves64(real, fake)
    expected = reference.discriminator_loss(real64, fake64, reduction=reduction, real_label=real_label)
    got = discriminator_loss(real.requires_grad_(), fake.requires_grad_(), reduction=reduction,
                             real_label=real_label)
    assert_matches(got.loss, expected.loss, dtype, "loss")
    assert_matches(got.d_real, expected.d_real, dtype, "d_real")
    assert_matches(got.d_fake, expected.d_fake, dtype, "d_fake")
    g = make_input(tuple(got.loss.shape), dtype, "contiguous", seed + 2)
    mine, want = grads(got.loss, [real, fake], g), grads(expected.loss, [real64, fake64], g.double())
    assert_matches(mine[0], want[0], dtype, "grad real_logits")
    assert_matches(mine[1], want[1], dtype, "grad fake_logits")


@FUZZ
@given(shape=shapes(), dtype=st.sampled_from(DTYPES), layout=st.sampled_from(LAYOUTS), reduction=reductions,
       saturating=st.booleans(), scale=logit_scales, seed=st.integers(0, 2**31 - 1))
def test_generator_loss_matches_the_reference(shape, dtype, layout, reduction, saturating, scale, seed):
    fake = make_input(shape, dtype, layout, seed, scale)
    (fake64,) = leaves64(fake)
    expected = reference.generator_loss(fake64, saturating=saturating, reduction=reduction)
    got = generator_loss(fake.requires_grad_(), saturating=saturating, reduction=reduction)
    assert_matches(got.loss, expected.loss, dtype, "loss")
    assert_matches(got.d_fake, expected.d_fake, dtype, "d_fake")
    g = make_input(tuple(got.loss.shape), dtype, "contiguous", seed + 1)
    (mine,) = grads(got.loss, [fake], g)
    (want,) = grads(expected.loss, [fake64], g.double())
    assert_matches(mine, want, dtype, "grad fake_logits")
