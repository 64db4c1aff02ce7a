"""Evaluates a generator against its dataset: mode coverage for the 2-D mixtures, Frechet
distance and KID on features for everything else (the report names the features, the sample
counts and the feature dimension).

`evaluate` takes objects (a generator, its latent sampler, the dataset plugin and its data), so
the trainer scores the generator it holds; `pygan evaluate` loads them from a run directory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pygan import plugins
from pygan.generate import classes_in_turn, generate
from pygan.metrics import feature_cache, inception
from pygan.metrics.features import EvaluationError, load_feature_network
from pygan.metrics.frechet import frechet_distance, kernel_inception_distance
from pygan.metrics.inception_weights import INSTALL_HINT
from pygan.metrics.mixture import PROTOCOL_SAMPLES, class_fidelity, mode_coverage
from pygan.metrics.precision_recall import precision_recall

__all__ = ["MAX_IMAGE_SAMPLES", "EvaluationError", "evaluate", "feature_source"]

LatentSampler = Callable[[int, int], torch.Tensor]  # (n, seed) -> n draws of z
Progress = Callable[[str], None]

# Real samples scored at most (and generated ones by default) on image data.
MAX_IMAGE_SAMPLES = PROTOCOL_SAMPLES
PR_NEIGHBOURS = 3  # k of improved precision and recall (Kynkäänniemi et al. 2019)


@dataclass
class FeatureSource:
    """How images become feature vectors for FD / KID / precision and recall."""

    name: str                                          # pixels | inception | a TorchScript file
    description: str
    extract: Callable[[torch.Tensor], torch.Tensor]
    protocol: dict[str, Any] | None = None             # written into the report (Inception)
    cache_settings: dict[str, Any] | None = None       # set where real features may be cached
    warnings: list[str] = field(default_factory=list)


def _torchscript_features(name: str) -> FeatureSource:
    path = Path(name)
    net = load_feature_network(path)  # refuses a missing file, naming every --features choice

    def extract(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = net(x)
        if not isinstance(out, torch.Tensor):
            raise EvaluationError(f"--features {name}: the network returned {type(out).__name__}, not a tensor")
        # (N, D) or (N, D, 1, 1) as pooling layers leave it; anything else is checked by the caller
        return out.flatten(1) if out.dim() >= 2 else out
    return FeatureSource(name, f"TorchScript features from {path.name}", extract)


def feature_source(name: str, inception_weights: str | None = None,
                   inception_precision: str = "fp32") -> FeatureSource:
    """'pixels', 'inception', 'auto' (Inception when its weights are found, else pixels with a
    warning that says how to get them), or a TorchScript file mapping images to (N, D)."""
    if inception_weights is not None and name not in ("auto", "inception"):
        raise EvaluationError("--inception-weights applies to --features inception (or auto) only")
    if name == "auto":
        name = "inception" if inception_weights or inception.available() else "pixels"
        fallback = name == "pixels"
    else:
        fallback = False
    if name == "pixels":
        source = FeatureSource("pixels", "pixels (Frechet distance on raw pixels: not FID, compare only runs on "
                               "the same data)", lambda x: x.flatten(1))
        if fallback:
            source.warnings.append(f"scored on pixels, not Inception features: {INSTALL_HINT}")
        return source
    if name == "inception":
        net = inception.InceptionFeatures(inception_weights, inception_precision)
        protocol = net.protocol()
        return FeatureSource("inception", "Inception-v3 pool3 (FID)", net, protocol,
                             {"protocol": protocol, "version": 1}, list(net.warnings))
    return _torchscript_features(name)


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
             samples: int | None = None, seed: int = 0, features: str | FeatureSource = "auto",
             inception_weights: str | None = None, inception_precision: str = "fp32",
             batch: int = 250, progress: Progress | None = None) -> dict[str, Any]:
    """Scores `generator` against the dataset plugin's data (`data` when the caller holds it already).

    `samples` generated samples (default: 2,500 on the 2-D mixtures, the protocol; on other data as
    many as the real samples scored, which are all of the data up to 2,500; with `samples` given,
    up to `samples` real ones). `progress`, when given, is called with a line before each stage."""
    say = progress or (lambda text: None)
    if samples is not None and samples < 2:
        raise EvaluationError(f"--samples must be >= 2, got {samples}")
    data_plugin = plugins.get_dataset(data_plugin_name)
    resolved = plugins.resolve_options(data_plugin_name, data_plugin.options, data_options)
    classes = data_plugin.spec(resolved).classes  # labelled data: G is class-conditional
    device = next(generator.parameters()).device
    mixture = hasattr(data_plugin, "modes") and hasattr(data_plugin, "std")

    def fakes(n: int, what: str = "", labels: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
        say(f"generating {n:,} samples{what}")
        z = latent(n, seed)
        for i in range(0, n, batch):
            y = None if labels is None else labels[i:i + batch].to(device)
            yield generate(generator, z[i:i + batch].to(device), y).float().cpu()

    if mixture:
        n = samples or PROTOCOL_SAMPLES
        labels = classes_in_turn(n, len(classes))
        fake = torch.cat(list(fakes(n, labels=labels)))
        say(f"mode coverage of {n:,} samples")
        report = {"dataset": data_plugin_name, "samples": n,
                  "mode_coverage": mode_coverage(fake, data_plugin.modes(), data_plugin.std).to_dict()}
        if classes:
            report["per_class"] = class_fidelity(fake, labels, data_plugin.modes(), data_plugin.std, classes)
        return report

    started = time.perf_counter()
    source = features if isinstance(features, FeatureSource) else \
        feature_source(features, inception_weights, inception_precision)
    if data is None:
        data = data_plugin.load(resolved)
    # A dataset that serves its images several times an epoch (faces: 200 images, 20 times) says how
    # many are distinct; scoring copies would count one image as many samples.
    distinct = int(getattr(data, "distinct", len(data)))
    count = min(samples or MAX_IMAGE_SAMPLES, distinct)
    if count < 2:
        raise EvaluationError(f"{data_plugin_name}: {distinct} distinct real sample(s); Frechet distance and KID "
                              "need >= 2")
    n = samples or count
    order = torch.randperm(distinct, generator=torch.Generator().manual_seed(seed))[:count]

    def real_batches() -> Iterator[torch.Tensor]:
        for i in range(0, count, batch):
            items = [data[int(k)] for k in order[i:i + batch]]
            yield torch.stack([item[0] if classes else item for item in items]).float()

    # Conditional: G is asked for the classes of the real samples scored, in the same proportions.
    real_labels = data.labels[order] if classes else None
    fake_labels = real_labels.repeat(-(-n // count))[:n] if classes else None

    timed = {"images": 0, "seconds": 0.0}

    def extract(x: torch.Tensor) -> torch.Tensor:
        begin = time.perf_counter()
        out = source.extract(x)
        timed["seconds"] += time.perf_counter() - begin
        timed["images"] += len(x)
        return out

    fake_f = _collect(fakes(n, f" and their features ({source.name})", fake_labels), n, extract)
    real_f, real_origin = _real_features(source, real_batches, count, extract, say, data_plugin_name)
    dimensions = real_f.shape[1]
    if fake_f.shape[1] != dimensions:
        raise EvaluationError(f"--features {source.name}: {fake_f.shape[1]} features for generated samples, "
                              f"{dimensions} for real ones")
    say(f"statistics: Frechet distance, KID, precision and recall ({n:,} generated, {count:,} real samples, "
        f"{dimensions:,} dimensions)")
    subset = min(1000, count, n)  # KID subsets never larger than either set
    subsets = 1 if subset == count == n else 100
    kid_mean, kid_std = kernel_inception_distance(real_f, fake_f, subsets=subsets, subset_size=subset)
    report: dict[str, Any] = {"dataset": data_plugin_name, "samples": n, "features": source.description,
                              "real_samples": count, "feature_dim": dimensions,
                              "frechet_distance": frechet_distance(real_f, fake_f), "kid": kid_mean,
                              "kid_std": None if subsets == 1 else kid_std,  # None: one subset
                              "kid_subset_size": subset, "kid_subsets": subsets}
    if min(n, count) > PR_NEIGHBOURS:
        report["precision"], report["recall"] = precision_recall(real_f, fake_f, k=PR_NEIGHBOURS)
    if source.protocol is not None:
        report["protocol"] = {**source.protocol, "samples": f"{n:,} generated, {count:,} real (of {distinct:,} "
                              f"distinct); KID over {subsets} subset(s) of {subset}; precision and recall with "
                              f"k = {PR_NEIGHBOURS}", "real_features": real_origin}
    if timed["seconds"] > 0:
        report["feature_images_per_s"] = round(timed["images"] / timed["seconds"], 1)
    if classes:
        report["per_class"] = _per_class(real_f, real_labels, fake_f, fake_labels, classes)
    report["seconds"] = round(time.perf_counter() - started, 1)
    warnings = list(source.warnings)
    if min(n, count) < dimensions:
        warnings.append(_bias_warning(min(n, count), dimensions))
    if warnings:
        report["warnings"] = warnings
    return report


def _per_class(real_f: torch.Tensor, real_labels: torch.Tensor, fake_f: torch.Tensor, fake_labels: torch.Tensor,
               classes: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Frechet distance and KID within each class (None where a class has fewer than 2 samples)."""
    out = {}
    for k, name in enumerate(classes):
        real_k, fake_k = real_f[real_labels == k], fake_f[fake_labels == k]
        m = min(len(real_k), len(fake_k))
        if m < 2:
            out[name] = {"real_samples": len(real_k), "samples": len(fake_k), "frechet_distance": None, "kid": None}
            continue
        kid, _ = kernel_inception_distance(real_k, fake_k, subsets=1 if m == len(real_k) == len(fake_k) else 100,
                                           subset_size=min(1000, m))
        out[name] = {"real_samples": len(real_k), "samples": len(fake_k),
                     "frechet_distance": frechet_distance(real_k, fake_k), "kid": kid}
    return out


def _real_features(source: FeatureSource, batches: Callable[[], Iterator[torch.Tensor]], count: int,
                   extract: Callable[[torch.Tensor], torch.Tensor], say: Progress, dataset: str
                   ) -> tuple[torch.Tensor, str]:
    """The real images' features, from the on-disk cache when the source allows and it holds them."""
    if source.cache_settings is None:
        say(f"features of {count:,} real samples ({source.name})")
        return _collect(batches(), count, extract), "computed"
    key = feature_cache.key_of(batches(), source.cache_settings)
    cached = feature_cache.load(key)
    if cached is not None and len(cached) == count:
        say(f"features of {count:,} real samples ({source.name}): cached")
        return cached, f"cached ({feature_cache.cache_dir() / key[:16]}...)"
    say(f"features of {count:,} real samples ({source.name})")
    real = _collect(batches(), count, extract)
    stored = feature_cache.store(key, real, {"dataset": dataset, "count": count})
    return real, "computed" + (f", cached in {stored.parent}" if stored else " (the cache folder is not writable)")
