"""Reading numpy arrays from a pickle without running what a pickle may carry.

`pickle.load` calls any function a file names, so a dataset shipped as a pickle could run code.
This unpickler admits the three globals a plain numpy array needs (numpy's array reconstructor,
ndarray and dtype) and refuses every other one; the arrays it returns must hold numbers, not
Python objects.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from pygan.errors import PyganError

# (module, name) a pickled ndarray refers to; numpy 1 wrote numpy.core, numpy 2 writes numpy._core.
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_ALLOWED = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}


class UnsafePickleError(PyganError, pickle.UnpicklingError):
    """The file asks for something other than numpy arrays."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _RECONSTRUCT:
            return np._core.multiarray._reconstruct if hasattr(np, "_core") else np.core.multiarray._reconstruct
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise UnsafePickleError(f"refused to load {module}.{name}: only numpy arrays are read from this file")


def load_arrays(path: str | Path) -> Any:
    """The numpy arrays (or a list, tuple or dict of them) pickled in `path`, gzipped or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = _ArrayUnpickler(f).load()
    _check_numeric(data, path)
    return data


def _check_numeric(data: Any, path: Path) -> None:
    values = data.values() if isinstance(data, dict) else data if isinstance(data, (list, tuple)) else [data]
    for value in values:
        if not isinstance(value, np.ndarray) or value.dtype.hasobject:
            raise UnsafePickleError(f"{path}: expected numeric numpy arrays, found {type(value).__name__}"
                                    f"{'' if not isinstance(value, np.ndarray) else ' of Python objects'}")
