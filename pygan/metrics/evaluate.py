"""Evaluates a generator against its dataset: mode coverage for the 2-D mixtures, Frechet
distance and KID on features for everything else (the report names the features, the sample
counts and the feature dimension).

`evaluate` takes objects (a generator, its latent sampler, the dataset plugin and its data), so
the trainer scores the generator it holds; `pygan evaluate` loads them from a run directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from pygan import plugins
from pygan.generate import generate
from pygan.metrics.features import EvaluationError, load_feature_network
from pygan.metrics.frechet import frechet_distance, kernel_inception_distance
from pygan.metrics.mixture import PROTOCOL_SAMPLES, mode_coverage

__all__ = ["MAX_IMAGE_SAMPLES", "EvaluationError", "evaluate"]

LatentSampler = Callable[[int, int], torch.Tensor]  # (n, seed) -> n draws of z
Progress = Callable[[str], None]

# Real samples scored at most (and generated ones by default) on image data.
MAX_IMAGE_SAMPLES = PROTOCOL_SAMPLES


def _features(name: str) -> tuple[str, Callable[[torch.Tensor], torch.Tensor]]:
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
            out = net(x)
        if not isinstance(out, torch.Tensor):
            raise EvaluationError(f"--features {name}: the network returned {type(out).__name__}, not a tensor")
        # (N, D) or (N, D, 1, 1) as pooling layers leave it; anything else is checked by the caller
        return out.flatten(1) if out.dim() >= 2 else out
    return f"TorchScript features from {path.name}", extract


def _collect(batches: Iterator[torch.Tensor], count: int, extract: Callable[[torch.Tensor], torch.Tensor]
             ) -> torch.Tensor:
    """The float32 features of `count` samples arriving in batches, written into one preallocated
    tensor: neither the images nor a second copy of the features are kept."""
    out: torch.Tensor | None = None
    done = 0
    for batch in batches:
        f = extract(batch).float()
        if f.dim() != 2 or len(f) != len(batch) or (out is not None and f.shape[1] != out.shape[1]):
            raise EvaluationError(f"--features: the feature network returned shape {tuple(f.shape)} for a batch "
                                  f"of {len(batch)} images; it must return one feature vector per image, of one "
                                  "length for all")
        if out is None:
            out = torch.empty(count, f.shape[1], dtype=torch.float32)
        out[done:done + len(f)] = f
        done += len(f)
    if out is None or done != count:
        raise EvaluationError(f"expected {count} samples to score, got {done}")
    return out


def _bias_warning(samples: int, dimensions: int) -> str:
    return (f"Frechet distance from {samples} samples in {dimensions} dimensions is dominated by estimation "
            "bias; use more samples or --features with fewer dimensions")


def evaluate(generator: torch.nn.Module, latent: LatentSampler, data_plugin_name: str,
             data_options: Mapping[str, Any], *, data: torch.utils.data.Dataset | None = None,
             samples: int | None = None, seed: int = 0, features: str = "pixels",
             batch: int = 250, progress: Progress | None = None) -> dict[str, Any]:
    """Scores `generator` against the dataset plugin's data (`data` when the caller holds it already).

    `samples` generated samples (default: 2,500 on the 2-D mixtures, the protocol; on other data as
    many as the real samples scored, which are all of the data up to 2,500; with `samples` given,
    up to `samples` real ones). `progress`, when given, is called with a line before each stage."""
    say = progress or (lambda text: None)
    if samples is not None and samples < 2:
        raise EvaluationError(f"--samples must be >= 2, got {samples}")
    data_plugin = plugins.get_dataset(data_plugin_name)
    device = next(generator.parameters()).device
    mixture = hasattr(data_plugin, "modes") and hasattr(data_plugin, "std")

    def fakes(n: int, what: str = "") -> Iterator[torch.Tensor]:
        say(f"generating {n:,} samples{what}")
        z = latent(n, seed)
        for i in range(0, n, batch):
            yield generate(generator, z[i:i + batch].to(device)).float().cpu()

    if mixture:
        n = samples or PROTOCOL_SAMPLES
        fake = torch.cat(list(fakes(n)))
        say(f"mode coverage of {n:,} samples")
        return {"dataset": data_plugin_name, "samples": n,
                "mode_coverage": mode_coverage(fake, data_plugin.modes(), data_plugin.std).to_dict()}

    description, extract = _features(features)
    if data is None:
        data = data_plugin.load(plugins.resolve_options(data_plugin_name, data_plugin.options, data_options))
    # A dataset that serves its images several times an epoch (faces: 200 images, 20 times) says how
    # many are distinct; scoring copies would count one image as many samples.
    distinct = int(getattr(data, "distinct", len(data)))
    count = min(samples or MAX_IMAGE_SAMPLES, distinct)
    if count < 2:
        raise EvaluationError(f"{data_plugin_name}: {distinct} distinct real sample(s); Frechet distance and KID "
                              "need >= 2")
    n = samples or count
    fake_f = _collect(fakes(n, f" and their features ({features})"), n, extract)
    order = torch.randperm(distinct, generator=torch.Generator().manual_seed(seed))[:count]

    def reals() -> Iterator[torch.Tensor]:
        say(f"features of {count:,} real samples ({features})")
        for i in range(0, count, batch):
            yield torch.stack([data[int(k)] for k in order[i:i + batch]]).float()

    real_f = _collect(reals(), count, extract)
    dimensions = real_f.shape[1]
    if fake_f.shape[1] != dimensions:
        raise EvaluationError(f"--features {features}: {fake_f.shape[1]} features for generated samples, "
                              f"{dimensions} for real ones")
    say(f"statistics: Frechet distance and KID ({n:,} generated, {count:,} real samples, {dimensions:,} dimensions)")
    subset = min(1000, count, n)
    kid_mean, kid_std = kernel_inception_distance(real_f, fake_f, subset_size=subset)
    report: dict[str, Any] = {"dataset": data_plugin_name, "samples": n, "features": description,
                              "real_samples": count, "feature_dim": dimensions,
                              "frechet_distance": frechet_distance(real_f, fake_f), "kid": kid_mean,
                              "kid_std": None if subset == count == n else kid_std}  # None: one subset
    if min(n, count) < dimensions:
        report["warnings"] = [_bias_warning(min(n, count), dimensions)]
    return report
