"""Checkpoints: written atomically (temp file, fsync, rename), read without executing code
(torch.load with weights_only=True), and checked to be pygan checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pygan.atomic import atomic_output
from pygan.atomic import write_bytes_atomic as write_bytes_atomic  # kept for callers of the old name
from pygan.errors import PyganError
from pygan.training.checkpoint_migrations import CURRENT, MIGRATIONS, migrate

FORMAT = "pygan-checkpoint"
VERSION = CURRENT


class CheckpointError(PyganError, RuntimeError):
    """A checkpoint is missing, truncated, or not a pygan checkpoint."""


def save_atomic(state: dict[str, Any], path: str | Path) -> None:
    """Writes `state` so that `path` is either the old file or the complete new one, never a mix."""
    with atomic_output(path, "wb") as f:
        torch.save({"format": FORMAT, "version": VERSION, **state}, f)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Reads a checkpoint written by save_atomic; never unpickles arbitrary objects."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "latest.pt", path / "latest.pt"):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise CheckpointError(f"{str(path)!r} is a folder without checkpoints/latest.pt; pass a run "
                                  "directory written by `pygan train` or a .pt checkpoint")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a damaged file can fail anywhere inside the unpickler
        raise CheckpointError(
            f"{path} is not a readable pygan checkpoint (truncated or another format): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a pygan checkpoint")
    if state.get("version") != VERSION and state.get("version") not in MIGRATIONS:
        raise CheckpointError(f"{path} is a pygan checkpoint of version {state.get('version')}; "
                              f"this pygan reads versions {min(MIGRATIONS)} to {VERSION} (a newer pygan wrote it?)")
    return migrate(state)
