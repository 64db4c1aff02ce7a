"""The fused gradient-norm penalty (R1, R2, WGAN-GP) against the pure-PyTorch reference in every
dtype and layout, with gradcheck, gradgradcheck, opcheck, torch.compile and bad input; and R1
through dcgan's D on the fused ops against the same penalty in plain PyTorch."""

from __future__ import annotations

import sys

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import gradient_penalty, reference
from tests.helpers import DTYPES, assert_close, assert_refused_by_kernel_and_fake_kernel, reference_in_float64

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

ops = torch.ops.pygan
CENTERS = [0.0, 1.0]


def grads(*shape, dtype=torch.float32, scale=0.05):
    return (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype).requires_grad_()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("center", CENTERS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_penalty_matches_reference(dtype, center, reduction):
    g = grads(16, 3, 8, 8, dtype=dtype)
    out = gradient_penalty(g, center=center, reduction=reduction)
    ref, (g64,) = reference_in_float64(reference.gradient_penalty, g, center=center, reduction=reduction)
    assert out.penalty.dtype == dtype and out.penalty.shape == ()
    assert out.norms.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert_close(out.penalty, ref.penalty, dtype)
    assert_close(out.norms, ref.norms, torch.float64 if dtype == torch.float64 else torch.float32)
    up = torch.tensor(1.3, dtype=dtype)
    assert_close(torch.autograd.grad(out.penalty, g, up)[0], torch.autograd.grad(ref.penalty, g64, up.double())[0],
                 dtype)


def test_penalty_is_the_published_formula():
    g = grads(10, 4, 3, dtype=torch.float64, scale=1.0)
    sq = g.flatten(1).square().sum(1)
    torch.testing.assert_close(gradient_penalty(g).penalty, sq.mean())  # R1 / R2: E||g||^2
    torch.testing.assert_close(gradient_penalty(g, center=1.0).penalty, ((sq.sqrt() - 1) ** 2).mean())  # WGAN-GP
    torch.testing.assert_close(gradient_penalty(g).norms, sq.sqrt())


@pytest.mark.parametrize("layout", ["channels_last", "transposed", "sliced", "1-d"])
def test_layouts(layout):
    base = grads(6, 3, 5, 5, dtype=torch.float64)
    g = {"channels_last": lambda: base.contiguous(memory_format=torch.channels_last),
         "transposed": lambda: base.transpose(0, 1),
         "sliced": lambda: base[:, 1:, ::2],
         "1-d": lambda: base.flatten()[:7]}[layout]()
    for center in CENTERS:
        out = gradient_penalty(g, center=center)
        ref = reference.gradient_penalty(g, center=center)
        torch.testing.assert_close(out.penalty, ref.penalty)
        grad_in = torch.autograd.grad(out.penalty, base)[0]
        torch.testing.assert_close(grad_in, torch.autograd.grad(ref.penalty, base)[0])


def test_channels_last_gradient_keeps_its_layout():
    g = grads(4, 3, 5, 5).detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    (grad_in,) = torch.autograd.grad(gradient_penalty(g).penalty, g)
    assert grad_in.is_contiguous(memory_format=torch.channels_last)


def test_zero_gradients():
    g = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    for center in CENTERS:
        out = gradient_penalty(g, center=center)
        assert out.penalty.item() == center ** 2
        (grad_in,) = torch.autograd.grad(out.penalty, g)
        assert grad_in.abs().max().item() == 0.0  # the norm has no gradient at 0, as torch's norm takes it


def test_more_samples_than_a_cuda_grid_has_blocks():
    g = grads(1100, 3, 2, 2)
    out, ref = gradient_penalty(g, center=1.0), reference.gradient_penalty(g, center=1.0)
    assert_close(out.penalty, ref.penalty, torch.float32)
    assert_close(out.norms, ref.norms, torch.float32)
    assert_close(torch.autograd.grad(out.penalty, g)[0], torch.autograd.grad(ref.penalty, g)[0], torch.float32)


def test_empty_batch_second_derivative():
    g = grads(0, 3, dtype=torch.float64)
    (first,) = torch.autograd.grad(ops.gradient_penalty(g, 1.0, "sum")[0], g, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), g, allow_unused=True)
    assert second is None or second.shape == (0, 3)


def test_empty_inputs():
    assert torch.isnan(gradient_penalty(grads(0, 3)).penalty)
    assert gradient_penalty(grads(0, 3), reduction="sum").penalty.item() == 0.0
    out = gradient_penalty(grads(4, 0), center=1.0)
    assert out.penalty.item() == 1.0 and out.norms.tolist() == [0.0] * 4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_and_extreme_values_stay_finite(dtype):
    g = torch.tensor([[1e4, -1e4, 3.0], [1e-30, 0.0, -1e-30]], dtype=dtype, requires_grad=True)
    for center in CENTERS:
        out = gradient_penalty(g, center=center)
        ref = reference.gradient_penalty(g.detach().double(), center=center)
        assert torch.isfinite(out.penalty)
        torch.testing.assert_close(out.penalty.double(), ref.penalty, rtol=1e-6, atol=0)
        assert torch.isfinite(torch.autograd.grad(out.penalty, g)[0]).all()


def test_large_samples_sum_in_blocks_and_match():
    g = grads(3, 100_003, dtype=torch.float64, scale=1.0)
    torch.testing.assert_close(gradient_penalty(g, center=1.0).penalty,
                               reference.gradient_penalty(g, center=1.0).penalty, rtol=1e-12, atol=1e-12)
    f = grads(3, 100_003, scale=1.0)
    torch.testing.assert_close(gradient_penalty(f).penalty.double(),
                               reference.gradient_penalty(f.double()).penalty, rtol=1e-6, atol=0)


def test_the_value_does_not_depend_on_the_thread_count():
    g = grads(256, 3, 32, 32)
    before = torch.get_num_threads()
    try:
        values = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            out = gradient_penalty(g, center=1.0)
            values.append((out.penalty.item(), torch.autograd.grad(out.penalty, g)[0]))
    finally:
        torch.set_num_threads(before)
    assert values[0][0] == values[1][0] and torch.equal(values[0][1], values[1][1])


@pytest.mark.parametrize("center", CENTERS)
def test_gradcheck_and_gradgradcheck(center):
    g = (torch.randn(4, 3, 2, dtype=torch.float64) * 0.5).requires_grad_()
    for reduction in ("mean", "sum"):
        def fn(x, reduction=reduction):
            return ops.gradient_penalty(x, center, reduction)[0]
        assert gradcheck(fn, (g,))
        assert gradgradcheck(fn, (g,))


def test_opcheck():
    f64 = torch.float64
    for args in ((grads(4, 3, 2, 2), 0.0, "mean"), (grads(5, 7, dtype=f64), 1.0, "sum"),
                 (grads(3, 2, 4, 4).detach().contiguous(memory_format=torch.channels_last).requires_grad_(), 1.0,
                  "mean"), (grads(6, 5, dtype=torch.bfloat16), 0.0, "mean")):
        torch.library.opcheck(ops.gradient_penalty.default, args)
    g = grads(4, 6, dtype=f64)
    norms = g.detach().norm(dim=1)
    torch.library.opcheck(ops.gradient_penalty_backward.default, (torch.tensor(0.7, dtype=f64), g, norms, 1.0, "mean"))


def _tiny_d():
    from pygan.ops import FusedLeakyReLU

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 4, 2, 1, bias=False), FusedLeakyReLU(4, 0.2),
                               torch.nn.Conv2d(4, 1, 4, 1, 0))


def test_penalty_under_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    g = grads(8, 3, 4, 4)
    compiled = torch.compile(lambda t: gradient_penalty(t, center=1.0).penalty, fullgraph=True)
    value = compiled(g)
    torch.testing.assert_close(value, reference.gradient_penalty(g, center=1.0).penalty)
    torch.testing.assert_close(torch.autograd.grad(value, g)[0],
                               torch.autograd.grad(reference.gradient_penalty(g, center=1.0).penalty, g)[0])


def test_r1_through_dcgans_fused_discriminator_matches_plain_pytorch():
    """R1 on dcgan's D, fused ops throughout (penalty, LeakyReLU, BatchNorm+LeakyReLU and their double
    backward), against the same D's weights in plain torch.nn layers, to 1e-6 in float64."""
    from pygan_plugins.dcgan import DCGAN

    from pygan.plugins import DataSpec

    torch.manual_seed(0)
    models = DCGAN().build(DataSpec((1, 16, 16)), {"latent_dim": 8, "ngf": 4, "ndf": 4, "spectral_norm": False})
    d = models.discriminator.double()
    x = torch.randn(6, 1, 16, 16, dtype=torch.float64)

    def r1(ops_module):
        with ops_module():
            xr = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(d(xr).sum(), xr, create_graph=True)
            value = gradient_penalty(g).penalty if ops_module is _fused else reference.gradient_penalty(g).penalty
            return value, torch.autograd.grad(value, list(d.parameters()))

    fused_value, fused_grads = r1(_fused)
    plain_value, plain_grads = r1(_reference)
    torch.testing.assert_close(fused_value, plain_value, rtol=1e-6, atol=0)
    for got, want in zip(fused_grads, plain_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-9)


class _fused:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _reference:
    """Routes every pygan op through its pure-PyTorch reference for the duration."""

    def __enter__(self):
        self._patch = pytest.MonkeyPatch()
        for module in ("pygan.ops.leaky_relu", "pygan.ops.batch_norm_leaky_relu", "pygan.ops.gradient_penalty"):
            self._patch.setattr(sys.modules[module], "uses_kernel", lambda t: False)
        return self

    def __exit__(self, *exc):
        self._patch.undo()
        return False


def _bad_calls():
    f = torch.randn
    yield lambda: ops.gradient_penalty(f(4, 3), -1.0, "mean"), "center must be a finite number >= 0"
    yield lambda: ops.gradient_penalty(f(4, 3), 0.0, "none"), "reduction must be 'mean' or 'sum'"
    yield lambda: ops.gradient_penalty(torch.tensor(1.0), 0.0, "mean"), "got a 0-dim tensor"
    yield lambda: ops.gradient_penalty(torch.ones(4, 3, dtype=torch.int32), 0.0, "mean"), "grad must be float32"
    yield lambda: ops.gradient_penalty_backward(f(2), f(4, 3), f(4), 0.0, "mean"), "grad_penalty must hold one value"
    yield lambda: ops.gradient_penalty_backward(f(()), f(4, 3), f(3), 0.0, "mean"), "norms must be the forward's"


@pytest.mark.parametrize(("call", "message"), list(_bad_calls()), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_is_refused_by_the_kernel_and_the_fake_kernel(call, message):
    assert_refused_by_kernel_and_fake_kernel(call, message)
