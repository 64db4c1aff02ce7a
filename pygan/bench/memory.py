"""What autograd keeps for backward, and this machine's copy bandwidth (the roofline's ceiling)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from pygan.bench.timing import measure_interleaved


def saved_for_backward(fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor]) -> dict[str, int]:
    """Bytes of the distinct storages autograd saves during one forward: in total, and beyond the
    inputs and the output (which the caller keeps anyway: a layer's output is the next layer's input)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(*inputs)
    kept_anyway = {t.untyped_storage().data_ptr() for t in [*inputs, out]}
    return {"saved_bytes": sum(storages.values()),
            "extra_saved_bytes": sum(n for ptr, n in storages.items() if ptr not in kept_anyway)}


def copy_bandwidth(numel: int, dtype: torch.dtype, device: torch.device) -> float:
    """GB/s of dst.copy_(src) into an existing tensor (reads and writes numel elements)."""
    src = torch.randn(numel, device=device).to(dtype)
    dst = torch.empty_like(src)
    timing = measure_interleaved({"copy": lambda: dst.copy_(src)}, device, repeats=7)["copy"]
    return 2 * numel * src.element_size() / (timing.median_us * 1e-6) / 1e9
