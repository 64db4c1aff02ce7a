"""The feature network of `pygan evaluate --features FILE`: a TorchScript file mapping images to
(N, D) features (e.g. an exported Inception network for FID), loaded or refused with the reason."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from pygan.errors import PyganError


class EvaluationError(PyganError, RuntimeError):
    """An evaluation cannot run as asked; the message names the input and the fix."""


def load_feature_network(path: str | Path) -> torch.jit.ScriptModule:
    """The TorchScript module in `path`, on the CPU and in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"--features {str(path)!r}: neither 'pixels', 'inception', 'auto' nor an existing "
                              "TorchScript file")
    try:
        network = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        text = str(exc).strip()
        reason = text.splitlines()[0].split(". ")[0] if text else type(exc).__name__  # torch's first sentence
        raise EvaluationError(f"--features {path}: not a TorchScript file ({reason}); save one with "
                              "torch.jit.script(network).save(FILE) or torch.jit.trace(network, images).save(FILE)"
                              ) from None
    if not isinstance(network, torch.jit.ScriptModule):
        raise EvaluationError(f"--features {path}: holds a {type(network).__name__}, not a TorchScript module")
    return network.eval()
