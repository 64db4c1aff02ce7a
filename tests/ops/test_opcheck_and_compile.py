"""Registration checks (torch.library.opcheck) and torch.compile(fullgraph=True) over the ops."""

from __future__ import annotations

import pytest
import torch

from pygan._extension import compiled_for
from pygan.ops import BatchNormLeakyReLU, discriminator_loss, fused_leaky_relu, generator_loss, reference
from tests.helpers import assert_refused_by_kernel_and_fake_kernel

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

ops = torch.ops.pygan


def _x(*shape, grad=True, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype, requires_grad=grad)


def _samples():
    cl = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last).requires_grad_()
    yield ops.discriminator_loss.default, (_x(8, 1), _x(8, 1), 1.0, "mean")
    yield ops.discriminator_loss.default, (_x(8, 1), _x(5, 1), 0.9, "sum")
    f64 = torch.float64
    yield ops.discriminator_loss.default, (_x(4, 2, dtype=f64), _x(4, 2, dtype=f64), 1.0, "none")
    yield ops.discriminator_loss_backward.default, (torch.tensor(1.3), _x(8, 1), _x(6, 1), 0.9, "mean")
    yield ops.discriminator_loss_backward.default, (torch.randn(3, 2), _x(3, 2), _x(3, 2), 1.0, "none")
    yield ops.generator_loss.default, (_x(8, 1), False, "mean")
    yield ops.generator_loss.default, (_x(8, 1), True, "none")
    yield ops.generator_loss_backward.default, (torch.tensor(0.5), _x(8, 1), False, "sum")
    yield ops.fused_leaky_relu.default, (_x(2, 3, 4, 4), _x(3), 0.2, 1.4)
    yield ops.fused_leaky_relu.default, (cl, None, 0.1, 1.0)
    yield ops.fused_leaky_relu.default, (_x(6, 5, dtype=torch.bfloat16), _x(5, dtype=torch.bfloat16), 0.2, 2.0)
    yield ops.fused_leaky_relu_backward.default, (torch.randn(2, 3, 4), _x(2, 3, 4), 0.2, 1.0)
    yield ops.fused_leaky_relu_backward_bias.default, (torch.randn(2, 3, 4), _x(2, 3, 4), 0.2, 1.0)
    yield ops.fused_leaky_relu_backward_bias.default, (torch.randn_like(cl), cl, 0.1, 2.0)
    yield ops.fused_leaky_relu_.default, (torch.randn(2, 3, 4, 4), torch.randn(3), 0.2, 1.0)
    yield ops.batch_norm_leaky_relu.default, (_x(4, 3, 5, 5, dtype=f64), _x(3, dtype=f64), _x(3, dtype=f64), 1e-5, 0.2)
    yield ops.batch_norm_leaky_relu.default, (cl, None, None, 1e-3, 0.1)
    yield ops.batch_norm_leaky_relu.default, (_x(6, 5, dtype=torch.bfloat16), _x(5), _x(5), 1e-5, 0.2)
    stats = (torch.randn(3, dtype=f64), torch.rand(3, dtype=f64) + 0.5)
    yield ops.batch_norm_leaky_relu_backward.default, (torch.randn(4, 3, 5, dtype=f64), _x(4, 3, 5, dtype=f64),
                                                       *stats, _x(3, dtype=f64), _x(3, dtype=f64), 1e-5, 0.2)


@pytest.mark.parametrize("op_and_args", list(_samples()), ids=lambda s: str(s[0]))
def test_opcheck(op_and_args):
    op, args = op_and_args
    torch.library.opcheck(op, args)


class TinyD(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 4, 2, 1, bias=False)
        self.bias1 = torch.nn.Parameter(torch.randn(8) * 0.1)
        self.conv2 = torch.nn.Conv2d(8, 16, 4, 2, 1, bias=False)
        self.bias2 = torch.nn.Parameter(torch.randn(16) * 0.1)
        self.head = torch.nn.Conv2d(16, 1, 4, 1, 0)

    def forward(self, x, act):
        h = act(self.conv1(x), self.bias1, 0.2, 1.0)
        h = act(self.conv2(h), self.bias2, 0.2, 1.0)
        return self.head(h).flatten()


def _gan_losses(d, real, fake, act, d_loss, g_loss):
    real_logits, fake_logits = d(real, act), d(fake, act)
    loss_d = d_loss(real_logits, fake_logits.detach(), real_label=0.9).loss
    loss_g = g_loss(fake_logits).loss
    return loss_d + loss_g


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    d = TinyD()
    real, fake = torch.randn(4, 1, 16, 16), torch.randn(4, 1, 16, 16)

    def step(real, fake):
        return _gan_losses(d, real, fake, fused_leaky_relu, discriminator_loss, generator_loss)

    compiled = torch.compile(step, fullgraph=True)  # raises on any graph break
    loss_c = compiled(real, fake)
    grads_c = torch.autograd.grad(loss_c, list(d.parameters()))
    loss_e = _gan_losses(d, real, fake, reference.fused_leaky_relu, reference.discriminator_loss,
                         reference.generator_loss)
    grads_e = torch.autograd.grad(loss_e, list(d.parameters()))
    torch.testing.assert_close(loss_c, loss_e, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads_c, grads_e, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("channels_last", [False, True])
def test_torch_compile_fullgraph_of_batch_norm_leaky_relu_blocks(channels_last):
    torch._dynamo.reset()
    torch.manual_seed(0)
    fused = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), BatchNormLeakyReLU(8, 0.2), torch.nn.Conv2d(8, 1, 3))
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.LeakyReLU(0.2),
                                torch.nn.Conv2d(8, 1, 3))
    plain.load_state_dict({k.replace("2.", "3.") if k.startswith("2.") else k: v
                           for k, v in fused.state_dict().items()})
    x = torch.randn(4, 3, 9, 9)
    if channels_last:
        fused, plain = fused.to(memory_format=torch.channels_last), plain.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    compiled = torch.compile(fused, fullgraph=True)  # raises on any graph break
    out_c = compiled(x)
    grads_c = torch.autograd.grad(out_c.square().sum(), list(fused.parameters()))
    out_e = plain(x)
    grads_e = torch.autograd.grad(out_e.square().sum(), list(plain.parameters()))
    torch.testing.assert_close(out_c, out_e, rtol=1e-4, atol=1e-5)
    for got, want in zip(grads_c, grads_e, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fused[1].running_var, plain[1].running_var)  # buffers updated in the graph


def _bad_calls():
    """Calls every CPU op refuses, each with the message it gives (built inside FakeTensorMode)."""
    f, i32 = torch.randn, torch.int32
    yield "discriminator_loss", lambda: ops.discriminator_loss(f(4, 1), f(4, 1), 1.0, "bogus"), "reduction must be"
    yield "discriminator_loss", lambda: ops.discriminator_loss(f(4, 1), f(4, 1), 7.0, "mean"), r"real_label must lie"
    yield "discriminator_loss", lambda: ops.discriminator_loss(torch.ones(4, 1, dtype=i32), f(4, 1), 1.0, "mean"), \
        "real_logits must be float32"
    yield "discriminator_loss", lambda: ops.discriminator_loss(f(4, 1), f(3, 1), 1.0, "none"), "same shape"
    yield "discriminator_loss_backward", lambda: ops.discriminator_loss_backward(f(2), f(4, 1), f(4, 1), 1.0, "mean"), \
        "grad_loss must hold one value"
    yield "generator_loss", lambda: ops.generator_loss(f(4, 1), False, "bogus"), "reduction must be"
    yield "generator_loss", lambda: ops.generator_loss(torch.ones(4, 1, dtype=i32), False, "mean"), \
        "fake_logits must be float32"
    yield "generator_loss_backward", lambda: ops.generator_loss_backward(f(3), f(4, 1), False, "none"), \
        "grad_loss must have the logits' shape"
    yield "fused_leaky_relu", lambda: ops.fused_leaky_relu(f(2, 3), None, 0.2, -1.0), "gain must be a finite number > 0"
    yield "fused_leaky_relu", lambda: ops.fused_leaky_relu(f(2, 3), None, -0.5, 1.0), "negative_slope must be"
    yield "fused_leaky_relu", lambda: ops.fused_leaky_relu(torch.ones(2, 3, dtype=i32), None, 0.2, 1.0), \
        "input must be float32"
    yield "fused_leaky_relu_", lambda: ops.fused_leaky_relu_(f(2, 3), f(2), 0.2, 1.0), "bias must be 1-D"
    yield "fused_leaky_relu_backward", lambda: ops.fused_leaky_relu_backward(f(3), f(4), 0.2, 1.0), \
        "grad_output has shape"
    yield "fused_leaky_relu_backward_bias", lambda: ops.fused_leaky_relu_backward_bias(f(3), f(3), 0.2, 1.0), \
        "output needs at least 2 dims"
    yield "batch_norm_leaky_relu", lambda: ops.batch_norm_leaky_relu(f(4, 3), None, None, 0.0, 0.2), "eps must be"
    yield "batch_norm_leaky_relu_backward", lambda: ops.batch_norm_leaky_relu_backward(
        f(4, 3), f(4, 3), f(2), f(3), None, None, 1e-5, 0.2), "mean must be the forward's saved statistics"
    yield "conv2d_weight_grad", lambda: ops.conv2d_weight_grad(f(2, 3, 8, 8), f(2, 5, 3, 4), [4, 4], [2, 2], [1, 1]), \
        r"grad_output's spatial size must be \(4, 4\)"


@pytest.mark.parametrize(("op", "call", "message"), list(_bad_calls()), ids=lambda v: v if isinstance(v, str) else "")
def test_fake_kernels_refuse_what_the_cpu_kernels_refuse(op, call, message):
    assert_refused_by_kernel_and_fake_kernel(call, message)


def test_bad_arguments_are_refused_under_torch_compile():
    torch._dynamo.reset()

    @torch.compile(fullgraph=True, backend="eager")
    def losses(real, fake):
        return ops.discriminator_loss(real, fake, 7.0, "mean")[0] + ops.fused_leaky_relu(real, None, 0.2, -1.0).sum()

    with pytest.raises(Exception, match=r"real_label must lie in \[0, 1\]"):
        losses(torch.randn(4, 1), torch.randn(4, 1))
