"""Checks that a checkpoint read from disk holds what its reader needs: the keys, and weights that fit
the network its config builds. A gap is a CheckpointError naming the file, never a KeyError or a
load_state_dict traceback."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pygan.training.checkpoint import CheckpointError

SHOWN = 3  # mismatches named in a message; the rest are counted


def check_keys(state: Mapping[str, Any], path: str | Path, required: Iterable[str]) -> None:
    """Refuses a checkpoint that lacks any of `required`."""
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(f"{path}: an incomplete pygan checkpoint: it lacks {_few(missing)}; it is damaged or "
                              "was written by another program (try another checkpoint of the run)")


def load_weights(module: nn.Module, weights: Any, what: str, path: str | Path) -> None:
    """`module.load_state_dict(weights)`, refusing with the file, the network (`what`, e.g. "generator")
    and the first mismatches when the weights do not fit: missing or unexpected keys, wrong shapes."""
    if not isinstance(weights, Mapping):
        raise CheckpointError(f"{path}: the {what} weights are {type(weights).__name__}, not a table of tensors; "
                              "the checkpoint is damaged")
    expected = module.state_dict()
    missing = [key for key in expected if key not in weights]
    unexpected = [key for key in weights if key not in expected]
    wrong = [f"{key} {_shape(weights[key])} (the network has {tuple(value.shape)})"
             for key, value in expected.items()
             if key in weights and (not torch.is_tensor(weights[key]) or weights[key].shape != value.shape)]
    problems = [f"{label} {_few(keys)}" for label, keys in
                (("missing", missing), ("unexpected", unexpected), ("of the wrong shape:", wrong)) if keys]
    if problems:
        raise CheckpointError(f"{path}: the {what} weights do not fit the network the checkpoint's config builds "
                              f"({'; '.join(problems)}); the checkpoint is damaged or its architecture plugin "
                              "has changed since it was written")
    try:
        module.load_state_dict(weights)
    except (RuntimeError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: the {what} weights could not be loaded: {first}") from None


def _shape(value: Any) -> str:
    return str(tuple(value.shape)) if torch.is_tensor(value) else f"(a {type(value).__name__}, not a tensor)"


def _few(items: list[str]) -> str:
    shown = ", ".join(str(item) for item in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
