"""The fused GAN losses against the pure-PyTorch reference and torch's own BCE, in every dtype."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

from pygan._extension import compiled_for
from pygan.ops import discriminator_loss, generator_loss, reference
from tests.helpers import DTYPES, assert_close, reference_in_float64

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

REDUCTIONS = ["mean", "sum", "none"]


def logits(*shape, dtype=torch.float32, scale=3.0):
    return (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype).requires_grad_()


def upstream_grad(loss: torch.Tensor) -> torch.Tensor:
    """A non-unit grad_output, so that scaling by it is checked too."""
    if loss.dim() == 0:
        return torch.tensor(1.7, dtype=loss.dtype)
    return torch.randn_like(loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_discriminator_loss_matches_reference(dtype, reduction, real_label):
    real, fake = logits(64, 1, dtype=dtype), logits(64, 1, dtype=dtype)
    out = discriminator_loss(real, fake, reduction=reduction, real_label=real_label)
    ref, (real64, fake64) = reference_in_float64(
        reference.discriminator_loss, real, fake, reduction=reduction, real_label=real_label)
    assert out.loss.dtype == dtype and out.loss.shape == ref.loss.shape
    assert_close(out.loss, ref.loss, dtype)
    assert_close(out.d_real, torch.sigmoid(real64).mean(), dtype)
    assert_close(out.d_fake, torch.sigmoid(fake64).mean(), dtype)
    assert not out.d_real.requires_grad and not out.d_fake.requires_grad

    g = upstream_grad(out.loss)
    grad_real, grad_fake = torch.autograd.grad(out.loss, (real, fake), g)
    ref_real, ref_fake = torch.autograd.grad(ref.loss, (real64, fake64), g.double())
    assert_close(grad_real, ref_real, dtype)
    assert_close(grad_fake, ref_fake, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_discriminator_loss_matches_torch_bce(dtype, reduction, real_label):
    real, fake = logits(32, 1, 3, 3, dtype=dtype), logits(32, 1, 3, 3, dtype=dtype)
    ours = discriminator_loss(real, fake, reduction=reduction, real_label=real_label).loss
    theirs = (F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_label),
                                                 reduction=reduction)
              + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake), reduction=reduction))
    assert_close(ours, theirs, dtype)
    g = upstream_grad(ours)
    assert_close(torch.autograd.grad(ours, real, g)[0], torch.autograd.grad(theirs, real, g)[0], dtype)


def test_discriminator_loss_is_the_minimax_value():
    # mean reduction = -V(D, G) = -(E[log D(x)] + E[log(1 - D(G(z)))])
    real, fake = logits(100, 1, dtype=torch.float64), logits(100, 1, dtype=torch.float64)
    d_x, d_gz = torch.sigmoid(real), torch.sigmoid(fake)
    value = torch.log(d_x).mean() + torch.log(1 - d_gz).mean()
    torch.testing.assert_close(discriminator_loss(real, fake).loss, -value)


def test_discriminator_loss_batches_of_different_sizes():
    real, fake = logits(10, 1), logits(7, 1)
    ref = reference.discriminator_loss(real, fake)
    torch.testing.assert_close(discriminator_loss(real, fake).loss, ref.loss)


def test_reduction_none_sums_and_averages_to_the_reduced_losses():
    real, fake = logits(16, 1, dtype=torch.float64), logits(16, 1, dtype=torch.float64)
    per_pair = discriminator_loss(real, fake, reduction="none").loss
    torch.testing.assert_close(per_pair.sum(), discriminator_loss(real, fake, reduction="sum").loss)
    torch.testing.assert_close(per_pair.mean(), discriminator_loss(real, fake).loss)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("saturating", [False, True])
def test_generator_loss_matches_reference(dtype, reduction, saturating):
    fake = logits(64, 1, dtype=dtype)
    out = generator_loss(fake, saturating=saturating, reduction=reduction)
    ref, (fake64,) = reference_in_float64(reference.generator_loss, fake, saturating=saturating,
                                          reduction=reduction)
    assert out.loss.dtype == dtype
    assert_close(out.loss, ref.loss, dtype)
    assert_close(out.d_fake, torch.sigmoid(fake64).mean(), dtype)
    g = upstream_grad(out.loss)
    assert_close(torch.autograd.grad(out.loss, fake, g)[0],
                 torch.autograd.grad(ref.loss, fake64, g.double())[0], dtype)


@pytest.mark.parametrize("saturating", [False, True])
def test_generator_loss_matches_the_textbook_formulas(saturating):
    fake = logits(50, 1, dtype=torch.float64, scale=2.0)
    d = torch.sigmoid(fake)
    textbook = torch.log(1 - d).mean() if saturating else -torch.log(d).mean()
    torch.testing.assert_close(generator_loss(fake, saturating=saturating).loss, textbook)


def test_saturating_loss_vanishes_where_non_saturating_does_not():
    # D confidently rejects the fakes: the saturating loss gives G almost no gradient.
    fake = torch.full((8, 1), -10.0, dtype=torch.float64, requires_grad=True)
    sat = torch.autograd.grad(generator_loss(fake, saturating=True).loss, fake)[0]
    non_sat = torch.autograd.grad(generator_loss(fake).loss, fake)[0]
    assert sat.abs().max() < 1e-5 < 0.1 < non_sat.abs().min()


@pytest.mark.parametrize("layout", ["transposed", "channels_last", "sliced"])
def test_non_contiguous_inputs(layout):
    base_r, base_f = logits(8, 4, 5, 5), logits(8, 4, 5, 5)

    def view(t):
        if layout == "transposed":
            return t.transpose(0, 2)
        if layout == "channels_last":
            return t.contiguous(memory_format=torch.channels_last)
        return t[:, ::2, 1:, :]

    real, fake = view(base_r), view(base_f)
    for reduction in REDUCTIONS:
        out = discriminator_loss(real, fake, reduction=reduction)
        ref = reference.discriminator_loss(real, fake, reduction=reduction)
        torch.testing.assert_close(out.loss, ref.loss)
        g = upstream_grad(out.loss)
        torch.testing.assert_close(torch.autograd.grad(out.loss, base_r, g)[0],
                                   torch.autograd.grad(ref.loss, base_r, g)[0])
        gen = generator_loss(fake, reduction=reduction).loss
        torch.testing.assert_close(gen, reference.generator_loss(fake, reduction=reduction).loss)


def test_empty_inputs():
    real, fake = logits(0, 1), logits(0, 1)
    assert torch.isnan(discriminator_loss(real, fake).loss)
    assert discriminator_loss(real, fake, reduction="sum").loss.item() == 0.0
    per_pair = discriminator_loss(real, fake, reduction="none").loss
    assert per_pair.shape == (0, 1)
    per_pair.sum().backward()
    assert real.grad.shape == (0, 1)
    assert generator_loss(fake, reduction="sum").loss.item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_give_finite_loss_and_gradient(dtype):
    values = torch.tensor([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype=dtype)
    real, fake = values.clone().requires_grad_(), values.flip(0).clone().requires_grad_()
    for real_label in (1.0, 0.9):
        loss = discriminator_loss(real, fake, real_label=real_label, reduction="none").loss
        assert torch.isfinite(loss).all()
        ref = reference.discriminator_loss(real.double(), fake.double(), real_label=real_label,
                                           reduction="none").loss
        assert_close(loss, ref, dtype)
        grads = torch.autograd.grad(loss.sum(), (real, fake))
        assert all(torch.isfinite(g).all() for g in grads)
    for saturating in (False, True):
        loss = generator_loss(fake, saturating=saturating, reduction="none").loss
        assert torch.isfinite(loss).all()
        assert torch.isfinite(torch.autograd.grad(loss.sum(), fake)[0]).all()


def test_nan_and_inf_propagate_as_in_the_reference():
    special = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0], dtype=torch.float64)
    for real_label in (1.0, 0.9):
        for real, fake in ((special, special.flip(0)), (special.flip(0), special)):
            ours = discriminator_loss(real.clone().requires_grad_(), fake, reduction="none",
                                      real_label=real_label)
            ref = reference.discriminator_loss(real.clone().requires_grad_(), fake,
                                               reduction="none", real_label=real_label)
            torch.testing.assert_close(ours.loss, ref.loss, equal_nan=True)
            assert torch.isnan(discriminator_loss(real, fake).loss)  # a NaN poisons the mean
    for saturating in (False, True):
        ours = generator_loss(special, saturating=saturating, reduction="none").loss
        ref = reference.generator_loss(special, saturating=saturating, reduction="none").loss
        torch.testing.assert_close(ours, ref, equal_nan=True)
        x = special.clone().requires_grad_()
        x_ref = special.clone().requires_grad_()
        g = torch.autograd.grad(generator_loss(x, saturating=saturating, reduction="sum").loss, x)[0]
        g_ref = torch.autograd.grad(
            reference.generator_loss(x_ref, saturating=saturating, reduction="sum").loss, x_ref)[0]
        torch.testing.assert_close(g, g_ref, equal_nan=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("real_label", [1.0, 0.8])
def test_discriminator_loss_gradcheck_and_gradgradcheck(reduction, real_label):
    real, fake = logits(6, 1, dtype=torch.float64), logits(6, 1, dtype=torch.float64)

    def fn(r, f):
        return discriminator_loss(r, f, reduction=reduction, real_label=real_label).loss

    assert gradcheck(fn, (real, fake))
    assert gradgradcheck(fn, (real, fake))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("saturating", [False, True])
def test_generator_loss_gradcheck_and_gradgradcheck(reduction, saturating):
    fake = logits(6, 1, dtype=torch.float64)

    def fn(f):
        return generator_loss(f, saturating=saturating, reduction=reduction).loss

    assert gradcheck(fn, (fake,))
    assert gradgradcheck(fn, (fake,))


def test_large_inputs_run_in_parallel_chunks_and_match():
    # > 2 chunks of 16384: exercises the parallel, chunk-ordered reduction.
    real, fake = logits(100_003, dtype=torch.float64), logits(70_001, dtype=torch.float64)
    ref = reference.discriminator_loss(real, fake)
    out = discriminator_loss(real, fake)
    torch.testing.assert_close(out.loss, ref.loss)
    torch.testing.assert_close(out.d_real, ref.d_real)


def test_reduction_does_not_depend_on_the_thread_count():
    real, fake = logits(300_000), logits(300_000)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = discriminator_loss(real, fake).loss
        torch.set_num_threads(max(2, threads))
        many = discriminator_loss(real, fake).loss
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)
