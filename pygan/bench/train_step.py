"""`pygan bench train`: images/s of a full DCGAN training step (64 px, batch 64) with pygan's
fused ops against the same model in plain eager PyTorch (nn.LeakyReLU, BCEWithLogitsLoss)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from pygan import plugins
from pygan.losses import get_loss


def plain_discriminator(channels: int = 3, ndf: int = 64) -> nn.Module:
    """The pytorch/examples DCGAN discriminator, ending in a logit for BCEWithLogitsLoss."""
    return nn.Sequential(
        nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Flatten(0))


def _step_fn(g: nn.Module, d: nn.Module, d_loss: Callable, g_loss: Callable, batch: int, latent: int,
             real: torch.Tensor) -> Callable[[], None]:
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step() -> None:  # the trainer's step: D on real and detached fakes, then G through the new D
        fake = g(torch.randn(batch, latent, 1, 1, device=real.device))
        loss = d_loss(d(real), d(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        loss = g_loss(d(fake))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
    return step


def run(device: torch.device, size: int = 64, batch: int = 64, steps: int = 4, repeats: int = 3) -> dict[str, Any]:
    arch = plugins.get_architecture("dcgan")
    spec = plugins.DataSpec((3, size, size))
    options = plugins.resolve_options("dcgan", arch.options, {})
    torch.manual_seed(0)
    models = arch.build(spec, options)
    real = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    loss = get_loss("non-saturating")
    pygan_step = _step_fn(models.generator.to(device), models.discriminator.to(device),
                          lambda r, f: loss.discriminator(r, f).loss, lambda f: loss.generator(f).loss,
                          batch, 100, real)
    plain_g = arch.build(spec, options).generator.to(device)  # the generator has no fused op in it
    plain_d = plain_discriminator().to(device)
    bce = nn.BCEWithLogitsLoss()

    def plain_d_loss(r, f):
        return bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))

    plain_step = _step_fn(plain_g, plain_d, plain_d_loss, lambda f: bce(f, torch.ones_like(f)), batch, 100, real)
    providers = {"plain eager": plain_step, "pygan": pygan_step}
    for fn in providers.values():
        for _ in range(2):
            fn()
    seconds: dict[str, list[float]] = {name: [] for name in providers}
    for _ in range(repeats):
        for name, fn in providers.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[name].append((time.perf_counter() - start) / steps)
    rows = [{"provider": name, "median_ms_per_step": statistics.median(s) * 1e3,
             "images_per_s": batch / statistics.median(s), "repeats": repeats, "steps_per_repeat": steps}
            for name, s in seconds.items()]
    return {"size": size, "batch": batch, "rows": rows,
            "speedup": rows[1]["images_per_s"] / rows[0]["images_per_s"]}
