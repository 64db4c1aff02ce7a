"""The real images' Inception features, kept on disk between evaluations (`--eval-every`, later
`pygan evaluate` runs of the same data).

The key is a SHA-256 over the exact uint8 pixels that would be scored (so a changed image folder,
another image size or other dataset options can never reuse stale features), the network file's
hash, the preprocessing protocol and the precision. Files are written atomically and read with
`weights_only=True`; an unreadable one is recomputed.

Folder: $PYGAN_CACHE_DIR, else $XDG_CACHE_HOME/pygan, else ~/.cache/pygan; then `inception-features/`."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from pygan.atomic import atomic_output
from pygan.metrics.inception_input import quantise

FOLDER = "inception-features"


def cache_dir() -> Path:
    root = os.environ.get("PYGAN_CACHE_DIR")
    if root:
        return Path(root) / FOLDER
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pygan" / FOLDER


def key_of(images: Iterable[torch.Tensor], settings: dict[str, Any]) -> str:
    """The key of the real images (batches in [-1, 1], in scoring order) under `settings`."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for batch in images:
        pixels = quantise(batch).to(torch.uint8).contiguous()
        digest.update(str(tuple(pixels.shape)).encode())
        digest.update(pixels.numpy().tobytes())
    return digest.hexdigest()


def load(key: str) -> torch.Tensor | None:
    path = cache_dir() / f"{key}.pt"
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        features = stored["features"]
    except Exception:  # a damaged or foreign file is only a cache miss
        return None
    return features if isinstance(features, torch.Tensor) and features.dim() == 2 else None


def store(key: str, features: torch.Tensor, about: dict[str, Any]) -> Path | None:
    """Writes the features; a cache that cannot be written (read-only home, full disk) is skipped."""
    path = cache_dir() / f"{key}.pt"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as f:
            torch.save({"features": features.contiguous(), "about": json.dumps(about, sort_keys=True)}, f)
    except OSError:
        return None
    return path
