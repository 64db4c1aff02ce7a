"""The blocks of class-conditional nets against pure-PyTorch references, and the conditional
dcgan and mlp they build."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pygan_plugins.dcgan import DCGAN
from pygan_plugins.mlp import MLPGAN

from pygan.conditional import ClassBias, ConditionalBatchNormLeakyReLU, ProjectionHead, one_hot
from pygan.plugins import DataSpec


def _reference(layer: ConditionalBatchNormLeakyReLU, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    normed = F.batch_norm(x, None, None, training=True, eps=layer.norm.eps)
    view = (x.shape[0], x.shape[1], 1, 1)
    return F.leaky_relu(normed * layer.scale(y).view(view) + layer.shift(y).view(view), layer.negative_slope)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_conditional_batch_norm_equals_the_reference(dtype, slope):
    torch.manual_seed(0)
    layer = ConditionalBatchNormLeakyReLU(5, 3, negative_slope=slope).to(dtype)
    torch.nn.init.normal_(layer.shift.weight)  # non-zero shifts, so each class's term is checked
    x, y = torch.randn(6, 5, 4, 4, dtype=dtype), torch.tensor([0, 1, 2, 2, 1, 0])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(layer(x, y), _reference(layer, x, y), rtol=tol, atol=tol)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(layer(channels_last, y), _reference(layer, x, y), rtol=tol, atol=tol)


def test_conditional_batch_norm_gradients():
    torch.manual_seed(1)
    layer = ConditionalBatchNormLeakyReLU(3, 2, negative_slope=0.2).double()
    torch.nn.init.normal_(layer.shift.weight)
    y = torch.tensor([0, 1, 1, 0])
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: layer(t, y), (x,))
    layer(x, y).square().sum().backward()
    assert layer.scale.weight.grad.abs().sum() > 0 and layer.shift.weight.grad.abs().sum() > 0


def test_the_projection_term_and_its_packed_form():
    head = ProjectionHead(4, 6)
    h = torch.randn(3, 6)
    y = torch.tensor([0, 3, 1])
    torch.testing.assert_close(head(h, y), (head.embed.weight[y] * h).sum(1))
    packed = torch.tensor([[0, 1], [2, 2], [3, 0]])
    torch.testing.assert_close(head(h, packed), (head.embed.weight[packed].sum(1) * h).sum(1))
    assert one_hot(packed, 4, torch.float32).shape == (3, 8)


def test_a_class_bias_is_the_one_hot_label_joined_to_the_layer_input():
    torch.manual_seed(0)
    bias, layer = ClassBias(3, 5, std=0.5), torch.nn.Linear(4, 5, bias=False)
    x, y = torch.randn(6, 4), torch.tensor([0, 2, 1, 1, 0, 2])
    widened = torch.nn.Linear(4 + 3, 5, bias=False)
    with torch.no_grad():
        widened.weight.copy_(torch.cat([layer.weight, bias.embed.weight.T], 1))
    torch.testing.assert_close(layer(x) + bias(y, x.dtype), widened(torch.cat([x, one_hot(y, 3, x.dtype)], 1)))
    packed = torch.tensor([[0, 1], [2, 2], [1, 0]])
    torch.testing.assert_close(bias(packed, torch.float64), bias.embed.weight[packed].sum(1).double())
    assert bias.embed.weight.std().item() == pytest.approx(0.5, rel=0.5)


def test_the_conditional_mlp_discriminator_takes_packed_labels_and_learns_a_bias_per_class():
    from pygan.plugins import resolve_options
    from pygan.training.run_spec import packed_spec

    arch = MLPGAN()
    spec = packed_spec(DataSpec((2,), None, ("a", "b", "c")), 2)
    d = arch.build(spec, resolve_options("arch", arch.options, {"hidden": 8, "layers": 2})).discriminator
    x, y = torch.randn(5, 4), torch.tensor([[0, 1], [1, 1], [0, 0], [1, 0], [0, 1]])
    scores = d(x, y)
    assert scores.shape == (5,) and not torch.equal(scores, d(x, torch.full_like(y, 2)))
    scores.sum().backward()
    grad = d.class_bias.embed.weight.grad
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() > 0 and grad[2].abs().sum() == 0  # class 2 not judged


@pytest.mark.parametrize(("arch", "spec"), [(DCGAN(), DataSpec((1, 16, 16), (-1.0, 1.0), ("a", "b", "c"))),
                                            (MLPGAN(), DataSpec((2,), None, ("a", "b", "c")))])
def test_conditional_nets_depend_on_the_label_and_learn_per_class_weights(arch, spec):
    from pygan.plugins import resolve_options

    options = resolve_options("arch", arch.options, {"ngf": 4, "ndf": 4} if isinstance(arch, DCGAN) else
                              {"hidden": 8, "layers": 2})
    torch.manual_seed(0)
    models = arch.build(spec, options)
    z = arch.sample_latent(6, spec, options)
    a, b = torch.zeros(6, dtype=torch.long), torch.full((6,), 2, dtype=torch.long)
    assert not torch.equal(models.generator(z, a), models.generator(z, b))
    x = models.generator(z, a).detach()
    scores = models.discriminator(x, a)
    assert scores.shape == (6,) and not torch.equal(scores, models.discriminator(x, b))
    scores.sum().backward()
    assert models.discriminator.projection.embed.weight.grad[0].abs().sum() > 0
    assert models.discriminator.projection.embed.weight.grad[1].abs().sum() == 0  # class 1 was not judged
