"""Evaluates a trained generator against its dataset: mode coverage for the 2-D mixtures,
Frechet distance and KID on features for everything else (the report names the features)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pygan import plugins
from pygan.metrics.frechet import frechet_distance, kernel_inception_distance
from pygan.metrics.mixture import PROTOCOL_SAMPLES, mode_coverage
from pygan.sampling import load_generator
from pygan.training import checkpoint
from pygan.training.config import from_dict
from pygan.training.trainer import generate


class EvaluationError(RuntimeError):
    pass


def _features(name: str):
    """A feature extractor by name: 'pixels', or a TorchScript file mapping images to (N, D)."""
    if name == "pixels":
        return "pixels (Frechet distance on raw pixels: not FID, compare only runs on the same data)", \
            lambda x: x.flatten(1)
    path = Path(name)
    if not path.is_file():
        raise EvaluationError(f"--features {name!r}: neither 'pixels' nor an existing TorchScript file")
    net = torch.jit.load(str(path), map_location="cpu").eval()

    def extract(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net(x).flatten(1)
    return f"TorchScript features from {path.name}", extract


def evaluate(run: str | Path, *, samples: int = PROTOCOL_SAMPLES, seed: int = 0, features: str = "pixels",
             batch: int = 250, data: torch.utils.data.Dataset | None = None) -> dict[str, Any]:
    """`data`: the run's dataset when the caller already holds it (the trainer does); else it is loaded."""
    state = checkpoint.load(run)
    config = from_dict(state["config"], "checkpoint")
    data_plugin = plugins.get_dataset(config.data.plugin)
    options = plugins.resolve_options(config.data.plugin, data_plugin.options, config.data.options)
    loaded = load_generator(run, state=state)
    z = loaded.latent(samples, seed)
    fake = torch.cat([generate(loaded.generator, z[i:i + batch]) for i in range(0, samples, batch)])
    report: dict[str, Any] = {"run": str(run), "step": loaded.step, "dataset": config.data.plugin,
                              "samples": samples, "ema": loaded.used_ema}
    if hasattr(data_plugin, "modes") and hasattr(data_plugin, "std"):
        report["mode_coverage"] = mode_coverage(fake, data_plugin.modes(), data_plugin.std).to_dict()
        return report
    description, extract = _features(features)
    if data is None:
        data = data_plugin.load(options)
    count = min(samples, len(data))
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:count]
    real = torch.stack([data[int(i)] for i in order])
    real_f = torch.cat([extract(real[i:i + batch]) for i in range(0, count, batch)])
    fake_f = torch.cat([extract(fake[i:i + batch]) for i in range(0, samples, batch)])
    kid_mean, kid_std = kernel_inception_distance(real_f, fake_f, subset_size=min(1000, count, samples))
    report.update(features=description, real_samples=count, frechet_distance=frechet_distance(real_f, fake_f),
                  kid=kid_mean, kid_std=kid_std)
    return report
