"""The numeric precision a run trains in (`--precision fp32|bf16|fp16|auto`).

auto picks bfloat16 autocast on CUDA GPUs that support it (float16 with loss scaling on older
ones) and, for image models, on CPUs with AMX-BF16 tile units, where oneDNN runs bfloat16
convolutions about twice as fast as float32. Elsewhere it keeps float32: on a CPU with
AVX512-BF16 but no AMX, oneDNN's bfloat16 convolutions measured 0.86x the speed of float32 on
DCGAN 64 px (and 0.85x at 32 px), and small non-convolutional models gain nothing from autocast.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from pygan.training.config import PRECISIONS, ConfigError

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
_CPU_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}
_FAST_CPU_BF16 = "amx_bf16"  # the feature that makes bfloat16 convolutions faster than float32


@functools.cache
def cpu_info() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (model name, family, flags, ...; empty where
    there is none)."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_bf16_features() -> tuple[str, ...]:
    """The native bfloat16 instruction sets of this CPU, from /proc/cpuinfo (empty elsewhere)."""
    return tuple(sorted(set(cpu_info().get("flags", "").split()) & _CPU_BF16_FLAGS))


@dataclass(frozen=True)
class Precision:
    name: str                            # fp32 | bf16 | fp16
    autocast_dtype: torch.dtype | None   # None = no autocast
    reason: str                          # why this precision, for the run's log
    warning: str | None = None           # a choice the user forced that will run badly here

    @property
    def needs_grad_scaler(self) -> bool:
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
        return self.autocast_dtype == torch.float16

    def autocast(self, device_type: str):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type, dtype=self.autocast_dtype)


def resolve(requested: str, device: torch.device, image_model: bool) -> Precision:
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    reason = "asked for"
    if requested == "auto":
        if device.type == "cuda":
            bf16 = torch.cuda.is_bf16_supported()
            requested = "bf16" if bf16 else "fp16"
            reason = "auto: CUDA " + ("supports bfloat16" if bf16 else "without bfloat16: float16 with loss scaling")
        elif image_model and _FAST_CPU_BF16 in cpu_bf16_features():
            requested = "bf16"
            reason = "auto: this CPU has AMX-BF16"
        else:
            requested = "fp32"
            reason = ("auto: this CPU has no AMX-BF16 (bfloat16 convolutions would be slower)" if image_model
                      else "auto: float32 for a non-image model")
    if requested == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a CUDA device (float16 on the CPU is slow and needs loss "
                          "scaling); on the CPU use --precision bf16 or fp32")
    warning = None
    if requested == "bf16" and device.type == "cpu" and not cpu_bf16_features():
        warning = ("--precision bf16 on a CPU without bfloat16 instructions (no AVX512-BF16, no AMX) runs "
                   "emulated: a DCGAN 64 px step measured 0.02x the speed of fp32 on an AMD EPYC (Zen 3, AVX2); "
                   "--precision auto picks fp32 here")
    return Precision(requested, _DTYPES[requested], reason, warning)
