"""Generators back from checkpoints, and what to draw with them: samples and latent walks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pygan import plugins
from pygan.generate import classes_in_turn
from pygan.plugins import DataSpec
from pygan.training import checkpoint
from pygan.training.checkpoint_checks import check_keys, load_weights
from pygan.training.config import from_dict


@dataclass
class LoadedGenerator:
    generator: torch.nn.Module
    arch: plugins.Architecture
    model_options: dict
    spec: DataSpec
    step: int
    used_ema: bool
    data_plugin: str = ""  # the run's dataset plugin and its resolved options
    data_options: dict | None = None

    def latent(self, n: int, seed: int) -> torch.Tensor:
        return self.arch.sample_latent(n, self.spec, self.model_options, generator=torch.Generator().manual_seed(seed))

    @property
    def conditional(self) -> bool:
        return bool(self.spec.classes)

    def class_index(self, name_or_index: str) -> int:
        """A class by its name or its index, as `pygan sample --class` takes it."""
        classes = self.spec.classes
        if not classes:
            raise checkpoint.CheckpointError("--class needs a class-conditional run; this one trained on unlabelled "
                                             "data")
        if name_or_index in classes:
            return classes.index(name_or_index)
        if name_or_index.lstrip("-").isdigit() and 0 <= int(name_or_index) < len(classes):
            return int(name_or_index)
        raise checkpoint.CheckpointError(f"--class {name_or_index!r} is neither a class name nor an index in "
                                         f"[0, {len(classes)}); the classes are: {', '.join(classes)}")

    def labels(self, n: int, class_index: int | None = None) -> torch.Tensor | None:
        """n labels: all `class_index`, or the classes in turn (None for an unconditional G)."""
        if not self.conditional:
            return None
        if class_index is not None:
            return torch.full((n,), class_index, dtype=torch.int64)
        return classes_in_turn(n, len(self.spec.classes))


def load_generator(path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu",
                   state: dict | None = None) -> LoadedGenerator:
    """Rebuilds G from a run directory or checkpoint (the EMA weights when the run kept them);
    `state` is that checkpoint when the caller has already read it."""
    state = state if state is not None else checkpoint.load(path)
    check_keys(state, path, ("config", "spec", "step", "generator"))
    config = from_dict(state["config"], f"{path} (its config)")
    arch = plugins.get_architecture(config.model.arch)
    options = plugins.resolve_options(config.model.arch, arch.options, config.model.options)
    spec = data_spec(state["spec"], path)
    generator = arch.build(spec, options).generator
    use_ema = ema and bool(state.get("ema"))
    if use_ema:
        if not isinstance(state["ema"], dict):
            raise checkpoint.CheckpointError(f"{path}: its EMA weights are damaged; try --no-ema")
        weights = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    else:
        weights = state["generator"]
    load_weights(generator, weights, "EMA generator" if use_ema else "generator", path)
    return LoadedGenerator(generator.to(device), arch, options, spec, state["step"], use_ema,
                           config.data.plugin, dict(config.data.options))


def data_spec(raw: Any, path: str | Path) -> DataSpec:
    """The DataSpec a checkpoint records ({"shape": [...], "value_range": [low, high] or [], "classes": [...]})."""
    try:
        shape = tuple(int(n) for n in raw["shape"])
        value_range = tuple(float(v) for v in raw["value_range"]) if raw["value_range"] else None
        classes = tuple(str(c) for c in raw.get("classes", ()))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise checkpoint.CheckpointError(f"{path}: its data spec {raw!r} is damaged (expected shape and "
                                         "value_range)") from None
    if not shape or min(shape) < 1 or (value_range is not None and len(value_range) != 2):
        raise checkpoint.CheckpointError(f"{path}: its data spec {raw!r} is damaged (expected shape and "
                                         "value_range)")
    return DataSpec(shape, value_range, classes)


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
