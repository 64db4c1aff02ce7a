"""`--features inception`: pool3 features of the FID Inception-v3 network, under the protocol of
`inception_input`, in batches, channels-last, in float32 (or bfloat16 when asked: faster only on
CPUs with AMX, and it moves FID, so the report says so)."""

from __future__ import annotations

import functools
from typing import Any

import torch

from pygan.metrics.features import EvaluationError
from pygan.metrics.inception_input import PROTOCOL, network_input
from pygan.metrics.inception_network import FEATURES, FIDInceptionV3
from pygan.metrics.inception_weights import InceptionWeights, find_weights, load_network, packaged_weights_path

PRECISIONS = ("fp32", "bf16")


@functools.lru_cache(maxsize=2)
def _network(weights: InceptionWeights) -> FIDInceptionV3:
    # One load per process and file: --eval-every scores many times in one run.
    return load_network(weights).to(memory_format=torch.channels_last)


def available() -> bool:
    """Whether `--features inception` can run without naming a weights file."""
    return packaged_weights_path() is not None


class InceptionFeatures:
    """Callable: (N, C, H, W) images in [-1, 1] -> (N, 2048) float32 features."""

    def __init__(self, weights_path: str | None = None, precision: str = "fp32", batch: int = 50) -> None:
        if precision not in PRECISIONS:
            raise EvaluationError(f"--inception-precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        self.weights = find_weights(weights_path)
        self.network = _network(self.weights)
        self.precision = precision
        self.batch = batch
        self.warnings: list[str] = []
        if precision == "bf16":
            self.warnings.append("--inception-precision bf16 moves FID against float32 features: compare only "
                                 "numbers computed in the same precision (and it is faster than float32 only on CPUs "
                                 "with AMX)")

    def protocol(self) -> dict[str, Any]:
        return {"network": f"FID Inception-v3 (TensorFlow inception-2015-12-05), pool3, {FEATURES} features",
                "weights": self.weights.origin, "weights_sha256": self.weights.sha256, **PROTOCOL,
                "network_precision": "float32" if self.precision == "fp32" else "bfloat16 (not the standard: float32)"}

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for i in range(0, len(images), self.batch):
            x = network_input(images[i:i + self.batch], memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.precision == "bf16"):
                out.append(self.network(x).float())
        return torch.cat(out) if out else torch.empty(0, FEATURES)
