"""What pygan runs on here: versions, which path each op takes per device, the SIMD level."""

from __future__ import annotations

import platform
from typing import Any

import torch

from pygan import _extension
from pygan.training import precision

OPS = ("discriminator_loss", "generator_loss", "fused_leaky_relu", "batch_norm_leaky_relu")


def _op_path(device_type: str) -> str:
    if _extension.compiled_for(device_type):
        return f"compiled {device_type.upper()}"
    return "reference (pure PyTorch)"


def collect() -> dict[str, Any]:
    """A JSON-friendly report; `pygan info` prints it."""
    from pygan import __version__

    c = _extension._C
    devices = ["cpu", "cuda"]
    return {
        "pygan": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "extension": "loaded" if c is not None else f"unavailable ({_extension.LOAD_ERROR})",
        "cpu_isa_active": c.cpu_isa() if c is not None else None,
        "cpu_isas_compiled": list(c.compiled_isas()) if c is not None else [],
        "cuda_kernels_compiled": bool(c.compiled_with_cuda()) if c is not None else False,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_bf16_features": list(precision.cpu_bf16_features()),
        "precision_auto_cpu_images": precision.resolve("auto", torch.device("cpu"), image_model=True).name,
        "ops": {op: {d: _op_path(d) for d in devices} for op in OPS},
    }
