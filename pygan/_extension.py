"""Loads the compiled extension pygan._C, or records why it is unavailable.

Without it pygan still works: every op falls back to its pure-PyTorch reference
(pygan.ops.reference), and `pygan info` shows which path each op takes.
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType

import torch  # the extension links against torch: import it first

DISABLE_ENV = "PYGAN_DISABLE_EXTENSION"

_C: ModuleType | None = None
LOAD_ERROR: str | None = None

if os.environ.get(DISABLE_ENV, "").strip() in {"1", "true", "yes"}:
    LOAD_ERROR = f"disabled by {DISABLE_ENV}"
else:
    try:
        from pygan import _C
    except ImportError as exc:
        LOAD_ERROR = f"{type(exc).__name__}: {exc}"

if _C is None:
    warnings.warn(
        f"pygan: the compiled kernels are unavailable ({LOAD_ERROR}); running on the "
        "pure-PyTorch reference ops. Build them with: pip install --no-build-isolation -e .",
        RuntimeWarning,
        stacklevel=2,
    )


def compiled_for(device_type: str) -> bool:
    """Whether a compiled kernel exists for tensors on this device type."""
    if _C is None:
        return False
    if device_type in {"cpu", "meta"}:
        return True
    return device_type == "cuda" and bool(_C.compiled_with_cuda())


def uses_kernel(tensor: torch.Tensor) -> bool:
    return compiled_for(tensor.device.type)

