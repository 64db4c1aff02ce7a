"""The DCGAN step in plain PyTorch that `pygan bench train` measures pygan against: the
pytorch/examples DCGAN (nn.LeakyReLU, nn.BatchNorm2d, BCEWithLogitsLoss, stock Adam, float32,
contiguous tensors), with the Wasserstein loss and the R1 and WGAN-GP penalties written as
papers' code writes them (torch.autograd.grad with create_graph=True, plain ops)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from pygan import plugins
from pygan.ops import BatchNormLeakyReLU, FusedLeakyReLU, reference
from pygan.ops.conv import plain_conv


@dataclass(frozen=True)
class Objective:
    """A loss and at most one penalty on D, as `pygan train --loss LOSS --reg PENALTY:WEIGHT:EVERY`."""
    loss: str = "non-saturating"  # non-saturating or wasserstein (what the plain step writes out)
    penalty: str | None = None    # r1 or gradient-penalty
    weight: float = 0.0
    every: int = 1                # lazy interval: the penalty on every k-th D step, weighted by k

    @property
    def regularisers(self) -> list[str]:
        return [f"{self.penalty}:{self.weight:g}:{self.every}"] if self.penalty else []


DEFAULT_OBJECTIVE = Objective()
LAZY_R1 = Objective(penalty="r1", weight=10.0, every=16)  # StyleGAN2's lazy R1
WGAN_GP = Objective(loss="wasserstein", penalty="gradient-penalty", weight=10.0)  # Gulrajani et al.'s lambda


def plain_copy(net: nn.Module) -> nn.Module:
    """A dcgan generator or discriminator with pygan's fused layers swapped for plain PyTorch ones
    (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU): at 64 px, the pytorch/examples DCGAN."""
    layers: list[nn.Module] = []
    for m in net.net:
        act = None
        if isinstance(m, FusedLeakyReLU):
            act = m.negative_slope
        elif isinstance(m, BatchNormLeakyReLU):
            layers.append(nn.BatchNorm2d(m.num_features))
            act = m.negative_slope
        else:
            layers.append(plain_conv(m))  # torch's own convolutions, and a copy of anything else
        if act is not None:
            layers.append(nn.ReLU(inplace=True) if act == 0.0 else nn.LeakyReLU(act, inplace=True))
    plain = copy.deepcopy(net)
    plain.net = nn.Sequential(*layers)
    return plain


def _input_gradient(d: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return grad


def plain_r1(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """R1 as papers' code writes it: 0.5 E ||grad_x D(x)||^2 on reals (gamma applied by the caller)."""
    return 0.5 * _input_gradient(d, real).square().flatten(1).sum(1).mean()


def plain_gradient_penalty(d: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                           eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP as papers' code writes it: E (||grad D(x_hat)|| - 1)^2 at x_hat = eps x + (1 - eps) G(z)."""
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    return (_input_gradient(d, eps * real + (1 - eps) * fake).flatten(1).norm(dim=1) - 1).square().mean()


PLAIN_PENALTIES = {"r1": plain_r1, "gradient-penalty": plain_gradient_penalty}


def plain_diff_augment(x: torch.Tensor) -> torch.Tensor:
    """DiffAugment color,translation,cutout as its authors' PyTorch code runs it: parameters drawn
    on x's device, then brightness, saturation, contrast, a gather from a padded copy, a mask."""
    n, _, h, w = x.shape
    dev = x.device
    color = torch.stack((torch.rand(n, device=dev) - 0.5, 2 * torch.rand(n, device=dev),
                         torch.rand(n, device=dev) + 0.5), 1)
    dy = torch.randint(-(h // 8), h // 8 + 1, (n,), device=dev)
    dx = torch.randint(-(w // 8), w // 8 + 1, (n,), device=dev)
    y0 = torch.randint(0, h + 1 - (h // 2) % 2, (n,), device=dev) - h // 4
    x0 = torch.randint(0, w + 1 - (w // 2) % 2, (n,), device=dev) - w // 4
    geometry = torch.stack((dy, dx, y0, y0 + h // 2, x0, x0 + w // 2), 1)
    return reference.diff_augment_steps(x, color, geometry)


def plain_step(device: torch.device, size: int, batch: int, objective: Objective = DEFAULT_OBJECTIVE,
               augment: bool = False) -> Callable[[], None]:
    """The pytorch/examples DCGAN step: plain layers, BCEWithLogitsLoss (or the Wasserstein loss),
    stock Adam, contiguous tensors; the objective's penalty on every `every`-th D step, weighted by it;
    with `augment`, DiffAugment on every batch D sees."""
    if objective.loss not in ("non-saturating", "wasserstein"):
        raise ValueError(f"plain_step: no plain version of --loss {objective.loss}; use non-saturating or wasserstein")
    arch = plugins.get_architecture("dcgan")
    spec = plugins.DataSpec((3, size, size))
    options = plugins.resolve_options("dcgan", arch.options, {})
    torch.manual_seed(0)
    models = arch.build(spec, options)
    g, d = plain_copy(models.generator).to(device), plain_copy(models.discriminator).to(device)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (g, d))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    latent = int(options["latent_dim"])
    wasserstein = objective.loss == "wasserstein"
    penalty = PLAIN_PENALTIES[objective.penalty] if objective.penalty else None
    d_steps = itertools.count()
    aug = plain_diff_augment if augment else (lambda x: x)

    def step() -> None:
        fake = g(torch.randn(batch, latent, device=device))
        real_out, fake_out = d(aug(real)), d(aug(fake.detach()))
        if wasserstein:
            loss = fake_out.mean() - real_out.mean()
        else:
            loss = bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))
        if penalty is not None and next(d_steps) % objective.every == 0:
            loss = loss + objective.weight * objective.every * penalty(d, real, fake.detach())
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        out = d(aug(fake))
        loss = -out.mean() if wasserstein else bce(out, torch.ones_like(out))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()

    return step
