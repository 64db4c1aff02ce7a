"""Evaluates a generator against its dataset: mode coverage for the 2-D mixtures, Frechet
distance and KID on features for everything else (the report names the features).

`evaluate` takes objects (a generator, its latent sampler, the dataset plugin and its data), so
the trainer scores the generator it holds; `pygan evaluate` loads them from a run directory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from pygan import plugins
from pygan.generate import generate
from pygan.metrics.features import EvaluationError, load_feature_network
from pygan.metrics.frechet import frechet_distance, kernel_inception_distance
from pygan.metrics.mixture import PROTOCOL_SAMPLES, mode_coverage

__all__ = ["EvaluationError", "evaluate"]

LatentSampler = Callable[[int, int], torch.Tensor]  # (n, seed) -> n draws of z


def _features(name: str):
    """A feature extractor by name: 'pixels', or a TorchScript file mapping images to (N, D)."""
    if name == "pixels":
        return "pixels (Frechet distance on raw pixels: not FID, compare only runs on the same data)", \
            lambda x: x.flatten(1)
    path = Path(name)
    if not path.is_file():
        raise EvaluationError(f"--features {name!r}: neither 'pixels' nor an existing TorchScript file")
    net = load_feature_network(path)

    def extract(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net(x).flatten(1)
    return f"TorchScript features from {path.name}", extract


def evaluate(generator: torch.nn.Module, latent: LatentSampler, data_plugin_name: str,
             data_options: Mapping[str, Any], *, data: torch.utils.data.Dataset | None = None,
             samples: int = PROTOCOL_SAMPLES, seed: int = 0, features: str = "pixels",
             batch: int = 250) -> dict[str, Any]:
    """Scores `generator` against the dataset plugin's data (`data` when the caller holds it already)."""
    data_plugin = plugins.get_dataset(data_plugin_name)
    device = next(generator.parameters()).device
    z = latent(samples, seed)
    fake = torch.cat([generate(generator, z[i:i + batch].to(device)).float().cpu()
                      for i in range(0, samples, batch)])
    report: dict[str, Any] = {"dataset": data_plugin_name, "samples": samples}
    if hasattr(data_plugin, "modes") and hasattr(data_plugin, "std"):
        report["mode_coverage"] = mode_coverage(fake, data_plugin.modes(), data_plugin.std).to_dict()
        return report
    description, extract = _features(features)
    if data is None:
        data = data_plugin.load(plugins.resolve_options(data_plugin_name, data_plugin.options, data_options))
    count = min(samples, len(data))
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:count]
    real = torch.stack([data[int(i)] for i in order])
    real_f = torch.cat([extract(real[i:i + batch]) for i in range(0, count, batch)])
    fake_f = torch.cat([extract(fake[i:i + batch]) for i in range(0, samples, batch)])
    kid_mean, kid_std = kernel_inception_distance(real_f, fake_f, subset_size=min(1000, count, samples))
    report.update(features=description, real_samples=count, frechet_distance=frechet_distance(real_f, fake_f),
                  kid=kid_mean, kid_std=kid_std)
    return report
