"""The CUDA kernels against the reference and the CPU kernels (run only where a GPU is present)."""

from __future__ import annotations

import pytest
import torch

from pygan._extension import compiled_for
from pygan.ops import (
    batch_norm_leaky_relu,
    conv2d_weight_grad,
    discriminator_loss,
    fused_leaky_relu,
    generator_loss,
    reference,
)
from tests.helpers import DTYPES, assert_close

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not compiled_for("cuda"), reason="pygan._C has no CUDA kernels"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_on_cuda_match_the_reference(dtype, reduction):
    real = (torch.randn(5000, 1, dtype=torch.float64) * 3).to("cuda", dtype).requires_grad_()
    fake = (torch.randn(5000, 1, dtype=torch.float64) * 3).to("cuda", dtype).requires_grad_()
    out = discriminator_loss(real, fake, reduction=reduction, real_label=0.9)
    r64, f64 = real.detach().cpu().double().requires_grad_(), fake.detach().cpu().double().requires_grad_()
    ref = reference.discriminator_loss(r64, f64, reduction=reduction, real_label=0.9)
    assert out.loss.device.type == "cuda"
    assert_close(out.loss.cpu(), ref.loss, dtype)
    assert_close(out.d_real.cpu(), ref.d_real, dtype)
    g = torch.ones_like(out.loss) * 1.3
    gr, gf = torch.autograd.grad(out.loss, (real, fake), g)
    rr, rf = torch.autograd.grad(ref.loss, (r64, f64), g.cpu().double())
    assert_close(gr.cpu(), rr, dtype)
    assert_close(gf.cpu(), rf, dtype)
    for saturating in (False, True):
        gen = generator_loss(fake, saturating=saturating, reduction=reduction)
        assert_close(gen.loss.cpu(),
                     reference.generator_loss(f64, saturating=saturating, reduction=reduction).loss, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_leaky_relu_on_cuda_matches_the_reference(dtype, channels_last):
    x = torch.randn(8, 16, 9, 9, device="cuda", dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    b = torch.randn(16, device="cuda", dtype=dtype, requires_grad=True)
    out = fused_leaky_relu(x, b, 0.2, 1.4)
    x64, b64 = x.detach().cpu().double().requires_grad_(), b.detach().cpu().double().requires_grad_()
    ref = reference.fused_leaky_relu(x64, b64, 0.2, 1.4)
    assert_close(out.cpu(), ref, dtype)
    g = torch.randn_like(out)
    got_x, got_b = torch.autograd.grad(out, (x, b), g)  # the bias gradient: fused_leaky_relu_backward_bias
    want_x, want_b = torch.autograd.grad(ref, (x64, b64), g.cpu().double())
    assert_close(got_x.cpu(), want_x, dtype)
    assert got_b.dtype == dtype
    low = dtype in (torch.float16, torch.bfloat16)  # a sum of 648 gradients rounded to the dtype
    torch.testing.assert_close(got_b.cpu().double(), want_b, rtol=5e-2 if low else 1e-5, atol=5e-1 if low else 1e-4)
    got_ops = torch.ops.pygan.fused_leaky_relu_backward_bias(g, out.detach(), 0.2, 1.4)
    assert got_ops[0].stride() == out.stride()
    assert torch.equal(got_ops[0], torch.ops.pygan.fused_leaky_relu_backward(g, out.detach(), 0.2, 1.4))


def test_cuda_gradcheck_and_opcheck():
    x = torch.randn(3, 4, 5, device="cuda", dtype=torch.float64)
    x = torch.where(x.abs() < 0.1, x + 0.2, x).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: fused_leaky_relu(t, None, 0.2, 1.3), (x,))
    r = torch.randn(6, 1, device="cuda", dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: discriminator_loss(t, t * 0.5).loss, (r,))
    torch.library.opcheck(torch.ops.pygan.discriminator_loss.default, (r, r.detach() * 2, 1.0, "mean"))
    torch.library.opcheck(torch.ops.pygan.fused_leaky_relu.default, (x, None, 0.2, 1.0))
    b = torch.zeros(4, device="cuda", dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t, b: fused_leaky_relu(t, b, 0.2, 1.3), (x, b))
    torch.library.opcheck(torch.ops.pygan.fused_leaky_relu_backward_bias.default,
                          (torch.randn_like(x), x.detach().requires_grad_(), 0.2, 1.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "two_dim"])
def test_batch_norm_leaky_relu_on_cuda_matches_the_reference(dtype, layout):
    x = torch.randn(16, 24, 9, 9, dtype=torch.float64) * 3 + 1 if layout != "two_dim" else torch.randn(300, 24)
    x = x.to("cuda", dtype)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    param_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    w = torch.randn(24, device="cuda", dtype=param_dtype, requires_grad=True)
    b = torch.randn(24, device="cuda", dtype=param_dtype, requires_grad=True)
    out, mean, _ = batch_norm_leaky_relu(x, w, b, 1e-5, 0.2)
    leaves = [t.detach().cpu().double().requires_grad_() for t in (x, w, b)]
    ref, ref_mean, _ = reference.batch_norm_leaky_relu(*leaves, 1e-5, 0.2)
    assert_close(out.cpu(), ref, dtype)
    assert_close(mean.cpu(), ref_mean, torch.float32 if dtype != torch.float64 else dtype)
    g = torch.randn_like(out)
    for got, want in zip(torch.autograd.grad(out, (x, w, b), g),
                         torch.autograd.grad(ref, leaves, g.cpu().double()), strict=True):
        scale = want.abs().max()
        assert_close(got.cpu() / scale, want / scale, dtype)


def test_batch_norm_leaky_relu_cuda_gradcheck_and_opcheck():
    x = torch.randn(3, 4, 3, 3, device="cuda", dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, device="cuda", dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, device="cuda", dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda *t: batch_norm_leaky_relu(*t, 1e-5, 0.2)[0], (x, w, b))
    torch.library.opcheck(torch.ops.pygan.batch_norm_leaky_relu.default, (x, w, b, 1e-5, 0.2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv2d_weight_grad_on_cuda_matches_the_reference(dtype):
    x = torch.randn(4, 32, 16, 16, dtype=torch.float64)
    gy = torch.randn(4, 48, 8, 8, dtype=torch.float64)
    out = conv2d_weight_grad(x.to("cuda", dtype), gy.to("cuda", dtype), 4, 2, 1)
    ref = reference.conv2d_weight_grad(x, gy, (4, 4), (2, 2), (1, 1))
    assert out.device.type == "cuda" and out.shape == ref.shape
    torch.testing.assert_close(out.cpu().double(), ref, rtol=1e-4 if dtype == torch.float32 else 1e-10,
                               atol=1e-4 if dtype == torch.float32 else 1e-10)
