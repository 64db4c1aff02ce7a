"""`pygan bench`: every fused op, forward and forward+backward, against eager PyTorch (textbook and
stable where both spellings exist) and torch.compile of the stable eager version, measured in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from pygan.bench.cases import QUICK_SHAPES, SHAPES, Case, make_case
from pygan.bench.memory import copy_bandwidth, saved_for_backward
from pygan.bench.timing import measure_interleaved

COMPILED = "torch.compile"


def _forward(fn: Callable[..., torch.Tensor], case: Case) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            fn(*case.inputs)
    return run


def _forward_backward(fn: Callable[..., torch.Tensor], case: Case) -> Callable[[], None]:
    def run() -> None:
        for t in case.inputs:
            t.grad = None  # each call allocates its gradients afresh, like a training step
        out = fn(*case.inputs)
        out.backward(case.grad)
    return run


def _compiled(case: Case) -> tuple[Callable[..., torch.Tensor], float]:
    """torch.compile of the case's stable eager version; returns it and its compile time (s)."""
    # A fresh cache per case: the same eager function compiled for many shapes and dtypes would
    # otherwise hit dynamo's recompile limit and silently run eagerly.
    torch._dynamo.reset()
    fn = torch.compile(case.providers[case.compile_source], dynamic=False)
    start = time.perf_counter()
    _forward_backward(fn, case)()
    _forward(fn, case)()
    if case.device.type == "cuda":
        torch.cuda.synchronize()
    return fn, time.perf_counter() - start


def bench_case(case: Case, repeats: int, with_compile: bool, copy_gbps: float) -> list[dict[str, Any]]:
    providers = dict(case.providers)
    compile_seconds = None
    if with_compile:
        providers[COMPILED], compile_seconds = _compiled(case)
    rows = []
    for mode, wrap, min_bytes in (("fwd", _forward, case.min_bytes_fwd),
                                  ("fwd+bwd", _forward_backward, case.min_bytes_fwd_bwd)):
        timings = measure_interleaved({name: wrap(fn, case) for name, fn in providers.items()}, case.device,
                                      repeats=repeats)
        for name, timing in timings.items():
            gbps = min_bytes / (timing.median_us * 1e-6) / 1e9
            row = {"op": case.op, "shape": list(case.shape), "dtype": str(case.dtype).removeprefix("torch."),
                   "mode": mode, "provider": name, **timing.to_dict(), "effective_gbps": gbps,
                   "fraction_of_copy_bandwidth": gbps / copy_gbps if copy_gbps else None}
            if mode == "fwd+bwd" and name != COMPILED:
                row.update(saved_for_backward(providers[name], case.inputs))
            if name == COMPILED:
                row["compile_seconds"] = compile_seconds
            rows.append(row)
    return rows


def run(device: torch.device, dtypes: list[torch.dtype], quick: bool, with_compile: bool, repeats: int,
        ops: list[str] | None = None, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    shapes = {op: s for op, s in (QUICK_SHAPES if quick else SHAPES).items() if ops is None or op in ops}
    rows, copy_cache = [], {}
    for op, op_shapes in shapes.items():
        for shape in op_shapes:
            for dtype in dtypes:
                case = make_case(op, shape, dtype, device)
                numel = case.inputs[0].numel()
                key = (numel, dtype)
                if key not in copy_cache:
                    copy_cache[key] = copy_bandwidth(numel, dtype, device)
                progress(f"{op} {'x'.join(map(str, shape))} {str(dtype).removeprefix('torch.')}")
                rows.extend(bench_case(case, repeats, with_compile, copy_cache[key]))
    copy_rows = [{"numel": n, "dtype": str(d).removeprefix("torch."), "gbps": g} for (n, d), g in copy_cache.items()]
    return {"rows": rows, "copy_bandwidth": copy_rows,
            "allocation": "every call allocates its outputs and gradients afresh through PyTorch's allocator; "
                          "providers of a case are timed interleaved after all are warm, so they share its state"}
