"""Generators back from checkpoints, and what to draw with them: samples and latent walks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pygan import plugins
from pygan.plugins import DataSpec
from pygan.training import checkpoint
from pygan.training.config import from_dict


@dataclass
class LoadedGenerator:
    generator: torch.nn.Module
    arch: plugins.Architecture
    model_options: dict
    spec: DataSpec
    step: int
    used_ema: bool

    def latent(self, n: int, seed: int) -> torch.Tensor:
        return self.arch.sample_latent(n, self.spec, self.model_options, generator=torch.Generator().manual_seed(seed))


def load_generator(path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu",
                   state: dict | None = None) -> LoadedGenerator:
    """Rebuilds G from a run directory or checkpoint (the EMA weights when the run kept them);
    `state` is that checkpoint when the caller has already read it."""
    state = state if state is not None else checkpoint.load(path)
    config = from_dict(state["config"], "checkpoint")
    arch = plugins.get_architecture(config.model.arch)
    options = plugins.resolve_options(config.model.arch, arch.options, config.model.options)
    raw = state["spec"]
    spec = DataSpec(tuple(raw["shape"]), tuple(raw["value_range"]) if raw["value_range"] else None)
    generator = arch.build(spec, options).generator
    use_ema = ema and bool(state.get("ema"))
    if use_ema:
        weights = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    else:
        weights = state["generator"]
    generator.load_state_dict(weights)
    return LoadedGenerator(generator.to(device), arch, options, spec, state["step"], use_ema)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (the path Gaussian latents prefer)."""
    a_flat, b_flat = a.flatten(1), b.flatten(1)
    cos = (a_flat * b_flat).sum(1) / (a_flat.norm(dim=1) * b_flat.norm(dim=1)).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))[:, None]
    so = torch.sin(omega)
    t = t[None, :, None]
    mixed = torch.where(so[:, None] < 1e-6, (1 - t) * a_flat[:, None] + t * b_flat[:, None],
                        (torch.sin((1 - t) * omega[:, None]) * a_flat[:, None]
                         + torch.sin(t * omega[:, None]) * b_flat[:, None]) / so[:, None].clamp_min(1e-12))
    return mixed.reshape(-1, *a.shape[1:])


def latent_walks(loaded: LoadedGenerator, walks: int, steps: int, seed: int) -> torch.Tensor:
    """`walks` rows of `steps` latents, each row going from one random z to another."""
    ends = loaded.latent(2 * walks, seed)
    return slerp(ends[:walks], ends[walks:], torch.linspace(0, 1, steps))
