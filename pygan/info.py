"""What pygan runs on here: versions, which path each op takes per device, the SIMD level."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

import pygan.ops
from pygan import _extension
from pygan.ops import conv, registry
from pygan.training import precision, threads

# Why channels-last is the default for convolutional models on every CPU family: `pygan bench train`'s
# "pygan fp32" (NHWC) against "pygan fp32 NCHW" on an AVX2 EPYC and an AVX-512 Xeon (benchmarks/).
CHANNELS_LAST_RULE = ("on for convolutional models on every CPU: oneDNN's DCGAN steps ran faster in NHWC with AVX2 "
                      "and with AVX-512 (pygan bench train); --no-channels-last turns it off")


def user_ops() -> tuple[str, ...]:
    """The user-facing ops, from the dispatcher's registry (X_backward and the in-place X_ count as
    X); without the extension, from pygan.ops' public functions (X_ again counts as X)."""
    if _extension._C is not None:
        return registry.user_ops()
    functions = {registry.user_op(name) for name in pygan.ops.__all__
                 if name.islower() and callable(getattr(pygan.ops, name))}
    return tuple(sorted(functions))


def _op_path(device_type: str) -> str:
    if _extension.compiled_for(device_type):
        return f"compiled {device_type.upper()}"
    return "reference (pure PyTorch)"


def _isa_report(c: Any) -> dict[str, Any]:
    """What the CPU can run and which ISA build runs; says when ATen's choice was clamped."""
    if c is None:
        return {"cpu_isa_active": None, "cpu_isas_compiled": [], "cpu_isas_supported": [],
                "cpu_isa_requested": None, "cpu_isa_clamped": False, "cpu_isa_note": None}
    support = c.cpu_isa_support()
    note = None
    if support["clamped"]:
        env = os.environ.get("ATEN_CPU_CAPABILITY")
        asked = f"ATEN_CPU_CAPABILITY={env}" if env else "ATen"
        note = (f"clamped: {asked} asks for {support['requested']} but this CPU supports only "
                f"{', '.join(support['supported'])}, so pygan's kernels run {support['active']}; "
                "unset ATEN_CPU_CAPABILITY, or torch's own kernels may crash")
    return {
        "cpu_isa_active": support["active"],
        "cpu_isas_compiled": list(c.compiled_isas()),
        "cpu_isas_supported": list(support["supported"]),
        "cpu_isa_requested": support["requested"],
        "cpu_isa_clamped": bool(support["clamped"]),
        "cpu_isa_note": note,
    }


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
        **_isa_report(c),
        "cuda_kernels_compiled": bool(c.compiled_with_cuda()) if c is not None else False,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "threads_auto_train": threads.choose(0, sample_seconds=0.2).threads,
        "channels_last_default": CHANNELS_LAST_RULE,
        "conv_weight_grad_cpu": "{}: {}".format(*conv.weight_grad_rule()),
        "cuda_available": torch.cuda.is_available(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "cpu_bf16_features": list(precision.cpu_bf16_features()),
        "precision_auto_cpu_images": precision.resolve("auto", torch.device("cpu"), image_model=True).name,
        "fid_inception_weights": _fid_weights(),
        "ops": {op: {d: _op_path(d) for d in devices} for op in user_ops()},
    }


def _fid_weights() -> str:
    """Where `--features inception` finds its weights without --inception-weights, or how to install them."""
    from pygan.metrics.inception_weights import INSTALL_HINT, packaged_weights_path

    found = packaged_weights_path()
    return str(found) if found else f"not installed ({INSTALL_HINT})"
