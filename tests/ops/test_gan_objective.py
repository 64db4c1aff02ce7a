"""The fused objectives after 2014 (hinge, least squares, Wasserstein, relativistic) against the
pure-PyTorch reference in every dtype, with gradcheck, gradgradcheck, opcheck, torch.compile and
bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import discriminator_objective, generator_objective, reference
from pygan.ops.gan_objective import DEFAULT_TARGETS
from tests.helpers import DTYPES, assert_close, assert_refused_by_kernel_and_fake_kernel, reference_in_float64

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

ops = torch.ops.pygan
KINDS = ["hinge", "least-squares", "wasserstein", "relativistic"]
G_KINDS = ["hinge", "least-squares", "wasserstein"]
REDUCTIONS = ["mean", "sum"]


def scores(*shape, dtype=torch.float32, scale=2.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype).requires_grad_()


def _ref_d(real, fake, kind, reduction="mean", **targets):
    tr, tf = DEFAULT_TARGETS[kind]
    return reference.discriminator_objective(real, fake, kind, real_target=targets.get("real_target", tr),
                                             fake_target=targets.get("fake_target", tf), reduction=reduction)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_discriminator_objective_matches_reference(dtype, kind, reduction):
    real, fake = scores(300, 1, dtype=dtype), scores(300, 1, dtype=dtype)
    out = discriminator_objective(real, fake, kind, reduction=reduction)
    ref, (real64, fake64) = reference_in_float64(_ref_d, real, fake, kind=kind, reduction=reduction)
    assert out.loss.dtype == dtype and out.loss.shape == ()
    assert_close(out.loss, ref.loss, dtype)
    assert_close(out.d_real, real64.mean(), dtype)
    assert_close(out.d_fake, fake64.mean(), dtype)
    assert not out.d_real.requires_grad and not out.d_fake.requires_grad
    g = torch.tensor(1.7, dtype=dtype)
    grads = torch.autograd.grad(out.loss, (real, fake), g)
    ref_grads = torch.autograd.grad(ref.loss, (real64, fake64), g.double())
    for got, want in zip(grads, ref_grads, strict=True):
        assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", G_KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_generator_objective_matches_reference(dtype, kind, reduction):
    fake = scores(300, 1, dtype=dtype)
    out = generator_objective(fake, kind, reduction=reduction)
    ref, (fake64,) = reference_in_float64(reference.generator_objective, fake, kind=kind, reduction=reduction)
    assert_close(out.loss, ref.loss, dtype)
    assert_close(out.d_fake, fake64.mean(), dtype)
    g = torch.tensor(0.6, dtype=dtype)
    assert_close(torch.autograd.grad(out.loss, fake, g)[0], torch.autograd.grad(ref.loss, fake64, g.double())[0],
                 dtype)


def test_the_objectives_are_the_published_formulas():
    r, f = scores(50, dtype=torch.float64), scores(50, dtype=torch.float64)
    close = torch.testing.assert_close
    close(discriminator_objective(r, f, "hinge").loss, F.relu(1 - r).mean() + F.relu(1 + f).mean())
    close(discriminator_objective(r, f, "least-squares").loss, 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean())
    close(discriminator_objective(r, f, "least-squares", real_target=1, fake_target=-1).loss,
          0.5 * ((r - 1) ** 2).mean() + 0.5 * ((f + 1) ** 2).mean())
    close(discriminator_objective(r, f, "wasserstein").loss, f.mean() - r.mean())
    close(discriminator_objective(r, f, "relativistic").loss, F.softplus(f - r).mean())
    close(generator_objective(f, "hinge").loss, -f.mean())
    close(generator_objective(f, "wasserstein").loss, -f.mean())
    close(generator_objective(f, "least-squares").loss, 0.5 * ((f - 1) ** 2).mean())
    close(generator_objective(f, "least-squares", target=0.5).loss, 0.5 * ((f - 0.5) ** 2).mean())
    rel = generator_objective(f, "relativistic", real_logits=r)
    close(rel.loss, F.softplus(r - f).mean())
    close(rel.d_fake, f.mean())


def test_relativistic_generator_needs_the_real_scores_of_its_shape():
    with pytest.raises(ValueError, match="pass real_logits"):
        generator_objective(scores(4), "relativistic")
    with pytest.raises(ValueError, match=r"pairs fake_logits\[i\] with real_logits\[i\].*got \(4,\) and \(3,\)"):
        generator_objective(scores(4), "relativistic", real_logits=scores(3))


def test_separable_objectives_take_batches_of_different_sizes():
    real, fake = scores(10, 1), scores(7, 1)
    for kind in ("hinge", "least-squares", "wasserstein"):
        torch.testing.assert_close(discriminator_objective(real, fake, kind).loss, _ref_d(real, fake, kind).loss)


def test_hinge_gradient_at_the_margin_is_zero_as_relu_s():
    real, fake = torch.tensor([1.0, 0.5], requires_grad=True), torch.tensor([-1.0, -0.5], requires_grad=True)
    loss = discriminator_objective(real, fake, "hinge", reduction="sum").loss
    grad_real, grad_fake = torch.autograd.grad(loss, (real, fake))
    assert grad_real.tolist() == [0.0, -1.0] and grad_fake.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("layout", ["transposed", "channels_last", "sliced"])
def test_non_contiguous_inputs(layout):
    base_r, base_f = scores(8, 4, 5, 5), scores(8, 4, 5, 5)

    def view(t):
        if layout == "transposed":
            return t.transpose(0, 2)
        if layout == "channels_last":
            return t.contiguous(memory_format=torch.channels_last)
        return t[:, ::2, 1:, :]

    real, fake = view(base_r), view(base_f)
    for kind in KINDS:
        out, ref = discriminator_objective(real, fake, kind), _ref_d(real, fake, kind)
        torch.testing.assert_close(out.loss, ref.loss)
        torch.testing.assert_close(torch.autograd.grad(out.loss, base_f)[0], torch.autograd.grad(ref.loss, base_f)[0])
    out = generator_objective(fake, "least-squares")
    torch.testing.assert_close(out.loss, reference.generator_objective(fake, "least-squares").loss)


def test_empty_inputs():
    real, fake = scores(0, 1), scores(0, 1)
    for kind in KINDS:
        assert torch.isnan(discriminator_objective(real, fake, kind).loss)
        out = discriminator_objective(real, fake, kind, reduction="sum")
        assert out.loss.item() == 0.0
        out.loss.backward()
    assert real.grad.shape == (0, 1)
    assert generator_objective(fake, "hinge", reduction="sum").loss.item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_extreme_scores_give_finite_values_and_gradients(dtype):
    values = torch.tensor([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype=dtype)
    real, fake = values.clone().requires_grad_(), values.flip(0).clone().requires_grad_()
    for kind in KINDS:
        out = discriminator_objective(real, fake, kind, reduction="sum")
        ref = _ref_d(real.detach().double(), fake.detach().double(), kind, reduction="sum")
        assert torch.isfinite(out.loss), kind
        torch.testing.assert_close(out.loss.double(), ref.loss, rtol=1e-2 if dtype == torch.bfloat16 else 1e-6,
                                   atol=0)
        grads = torch.autograd.grad(out.loss, (real, fake))
        assert all(torch.isfinite(g).all() for g in grads), kind
    for kind in G_KINDS:
        out = generator_objective(fake, kind)
        assert torch.isfinite(out.loss) and torch.isfinite(torch.autograd.grad(out.loss, fake)[0]).all()


def test_relativistic_pairs_saturate_to_the_exact_limits():
    real = torch.tensor([1e4, -1e4], dtype=torch.float64, requires_grad=True)
    fake = torch.tensor([-1e4, 1e4], dtype=torch.float64, requires_grad=True)
    loss = discriminator_objective(real, fake, "relativistic", reduction="sum").loss
    assert loss.item() == 2e4  # softplus(-2e4) = 0, softplus(2e4) = 2e4
    assert torch.autograd.grad(loss, fake)[0].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("scale", [0.1, 3.0, 30.0])
def test_relativistic_float32_sum_of_many_pairs_is_close_to_float64(scale):
    # The CPU forward multiplies 16 factors 1 + exp(-|x|) per log: the sum must stay as close to
    # float64 as one softplus per pair would, at every spread of the scores.
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(200_003, generator=g) * scale, torch.randn(200_003, generator=g) * scale
    got = discriminator_objective(real, fake, "relativistic").loss.item()
    exact = F.softplus(fake.double() - real.double()).mean().item()
    assert abs(got - exact) <= 1e-6 * exact


def test_relativistic_tiny_terms_are_not_lost():
    # exp(-20) = 2e-9: 1 + e rounds to 1 in float32, so the sum must keep e from elsewhere.
    real, fake = torch.full((1000,), 20.0), torch.zeros(1000)
    got = discriminator_objective(real, fake, "relativistic", reduction="sum").loss.item()
    exact = 1000 * F.softplus(torch.tensor(-20.0, dtype=torch.float64)).item()
    assert abs(got - exact) <= 1e-5 * exact


def test_nan_propagates():
    real, fake = torch.tensor([0.0, float("nan")]), torch.tensor([0.5, 0.1])
    for kind in KINDS:
        assert torch.isnan(discriminator_objective(real, fake, kind).loss), kind


def test_large_inputs_run_in_parallel_chunks_and_match():
    real, fake = scores(300_001, dtype=torch.float64), scores(300_001, dtype=torch.float64)
    for kind in KINDS:
        out, ref = discriminator_objective(real, fake, kind), _ref_d(real, fake, kind)
        torch.testing.assert_close(out.loss, ref.loss, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(out.d_real, real.detach().mean(), rtol=1e-12, atol=1e-12)


def test_the_value_does_not_depend_on_the_thread_count():
    real, fake = scores(1 << 20), scores(1 << 20)
    before = torch.get_num_threads()
    try:
        values = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            values.append([discriminator_objective(real, fake, k).loss.item() for k in KINDS])
    finally:
        torch.set_num_threads(before)
    assert values[0] == values[1]


@pytest.mark.parametrize("kind", KINDS)
def test_discriminator_objective_gradcheck_and_gradgradcheck(kind):
    # Scores away from the hinge's kinks, where its derivative jumps and finite differences fail.
    real = (torch.rand(6, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    fake = (-torch.rand(6, dtype=torch.float64) * 0.8 - 0.1).requires_grad_()
    for reduction in REDUCTIONS:
        def fn(r, f, reduction=reduction):
            return ops.discriminator_objective(r, f, kind, 1.0 if kind != "least-squares" else 0.7, -1.0, reduction)[0]
        assert gradcheck(fn, (real, fake))
        assert gradgradcheck(fn, (real, fake))


@pytest.mark.parametrize("kind", G_KINDS)
def test_generator_objective_gradcheck_and_gradgradcheck(kind):
    fake = scores(6, dtype=torch.float64)
    for reduction in REDUCTIONS:
        def fn(f, reduction=reduction):
            return ops.generator_objective(f, kind, 0.3, reduction)[0]
        assert gradcheck(fn, (fake,))
        assert gradgradcheck(fn, (fake,))


def _opcheck_samples():
    f64 = torch.float64
    yield ops.discriminator_objective.default, (scores(8, 1), scores(8, 1), "hinge", 1.0, -1.0, "mean")
    yield ops.discriminator_objective.default, (scores(8, 1), scores(5, 1), "least-squares", 1.0, 0.0, "sum")
    yield ops.discriminator_objective.default, (scores(4, 2, dtype=f64), scores(4, 2, dtype=f64), "relativistic",
                                                1.0, -1.0, "mean")
    yield ops.discriminator_objective.default, (scores(6, dtype=torch.bfloat16), scores(6, dtype=torch.bfloat16),
                                                "wasserstein", 1.0, -1.0, "mean")
    yield ops.discriminator_objective_backward.default, (torch.tensor(1.3), scores(8, 1), scores(8, 1), "relativistic",
                                                         1.0, -1.0, "mean")
    yield ops.discriminator_objective_backward.default, (torch.tensor(0.5, dtype=f64), scores(3, dtype=f64),
                                                         scores(4, dtype=f64), "least-squares", 1.0, 0.0, "sum")
    yield ops.generator_objective.default, (scores(8, 1), "hinge", 1.0, "mean")
    yield ops.generator_objective.default, (scores(8, 1, dtype=f64), "least-squares", 1.0, "sum")
    yield ops.generator_objective_backward.default, (torch.tensor(0.5, dtype=f64), scores(8, dtype=f64),
                                                     "least-squares", 0.5, "mean")


@pytest.mark.parametrize("op_and_args", list(_opcheck_samples()), ids=lambda s: str(s[0]))
def test_opcheck(op_and_args):
    op, args = op_and_args
    torch.library.opcheck(op, args)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_torch_compile_fullgraph_matches_eager(kind):
    torch._dynamo.reset()
    d = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.LeakyReLU(0.2), torch.nn.Linear(8, 1))
    real, fake = torch.randn(16, 3), torch.randn(16, 3)

    def losses(d_loss, g_loss):
        r, f = d(real).flatten(), d(fake).flatten()
        return d_loss(r, f.detach(), kind).loss + g_loss(f, r)

    def fused_g(f, r):
        return generator_objective(f, kind, real_logits=r).loss

    def ref_g(f, r):  # relativistic G: the D objective with real and fake swapped
        return _ref_d(f, r, kind).loss if kind == "relativistic" else reference.generator_objective(f, kind).loss

    compiled = torch.compile(lambda: losses(discriminator_objective, fused_g), fullgraph=True)
    loss_c = compiled()
    loss_e = losses(_ref_d, ref_g)
    torch.testing.assert_close(loss_c, loss_e, rtol=1e-5, atol=1e-6)
    for got, want in zip(torch.autograd.grad(loss_c, list(d.parameters())),
                         torch.autograd.grad(loss_e, list(d.parameters())), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def _bad_calls():
    f, i32 = torch.randn, torch.int32
    yield lambda: ops.discriminator_objective(f(4), f(4), "focal", 1.0, -1.0, "mean"), "kind must be one of 'hinge'"
    yield lambda: ops.discriminator_objective(f(4), f(4), "hinge", 1.0, -1.0, "none"), \
        "reduction must be 'mean' or 'sum'"
    yield lambda: ops.discriminator_objective(f(4), f(3), "relativistic", 1.0, -1.0, "mean"), "need the same shape"
    yield lambda: ops.discriminator_objective(f(4), f(4), "hinge", float("nan"), -1.0, "mean"), \
        "real_target must be a finite number"
    yield lambda: ops.discriminator_objective(torch.ones(4, dtype=i32), f(4), "hinge", 1.0, -1.0, "mean"), \
        "real_logits must be float32"
    yield lambda: ops.discriminator_objective(f(4), f(4, dtype=torch.float64), "hinge", 1.0, -1.0, "mean"), \
        "convert both to the same dtype"
    yield lambda: ops.discriminator_objective_backward(f(2), f(4), f(4), "hinge", 1.0, -1.0, "mean"), \
        "grad_loss must hold one value"
    yield lambda: ops.generator_objective(f(4), "relativistic", 1.0, "mean"), "real and fake swapped"
    yield lambda: ops.generator_objective(f(4), "hinge", float("inf"), "mean"), "target must be a finite number"
    yield lambda: ops.generator_objective_backward(f(3), f(4), "hinge", 1.0, "mean"), "grad_loss must hold one value"


@pytest.mark.parametrize(("call", "message"), list(_bad_calls()), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_is_refused_by_the_kernel_and_the_fake_kernel(call, message):
    assert_refused_by_kernel_and_fake_kernel(call, message)


def test_the_reference_refuses_the_same_arguments():
    with pytest.raises(RuntimeError, match="kind must be one of"):
        reference.discriminator_objective(torch.randn(3), torch.randn(3), "focal")
    with pytest.raises(RuntimeError, match="need the same shape"):
        reference.discriminator_objective(torch.randn(3), torch.randn(2), "relativistic")
    with pytest.raises(RuntimeError, match="reduction must be 'mean' or 'sum'"):
        reference.generator_objective(torch.randn(3), "hinge", reduction="none")
