"""pygan: a GAN toolkit for PyTorch with fused C++/CUDA kernels, plugins and a CLI.

The ops (`from pygan import fused_leaky_relu`, `pygan.ops`, ...) load on first use, so `pygan --help`
and `pygan --version` answer without importing torch. A program that imported torch before pygan gets
the kernels at `import pygan`, as it always did: `torch.ops.pygan.*` is registered straight away.
"""

from __future__ import annotations

import sys
from typing import Any

__version__ = "0.1.0"

_OPS = (
    "BatchNormLeakyReLU",
    "FusedLeakyReLU",
    "batch_norm_leaky_relu",
    "discriminator_loss",
    "fused_leaky_relu",
    "fused_leaky_relu_",
    "generator_loss",
)

__all__ = ["__version__", *_OPS]


def __getattr__(name: str) -> Any:
    if name in _OPS:
        return getattr(__getattr__("ops"), name)
    if name == "_C":  # the extension links against torch: load torch first
        import torch  # noqa: F401
    if not name.startswith("__"):
        # A submodule not imported yet (`import pygan; pygan.ops.fused_leaky_relu(...)`). __import__, not
        # importlib.import_module: the extension's one warning names this line, not one inside importlib.
        try:
            __import__(f"{__name__}.{name}")
            return sys.modules[f"{__name__}.{name}"]
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_OPS})


if "torch" in sys.modules:  # torch is paid for already: load the kernels (or warn once) as before
    __getattr__("ops")
