"""Timing with medians over repeats. Providers of one case are measured interleaved (A B C, A B C,
...) after all of them are warm, so that none is timed under another allocator state or clock."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class Timing:
    median_us: float
    p25_us: float
    p75_us: float
    repeats: int
    calls_per_repeat: int

    def to_dict(self) -> dict:
        return dict(median_us=self.median_us, p25_us=self.p25_us, p75_us=self.p75_us, repeats=self.repeats,
                    calls_per_repeat=self.calls_per_repeat)


def _clock(device: torch.device) -> Callable[[Callable[[], None], int], float]:
    """Seconds for n calls: perf_counter on the CPU, CUDA events on a GPU."""
    if device.type == "cuda":
        def run(fn, n):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(n):
                fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1e3
        return run

    def run(fn, n):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return time.perf_counter() - t0
    return run


def warm_up(fn: Callable[[], None], device: torch.device, max_seconds: float = 2.0) -> float:
    """Runs fn until three successive batches agree within 10% (or time runs out); returns s/call."""
    clock = _clock(device)
    fn()
    n, history, deadline = 1, [], time.perf_counter() + max_seconds
    while time.perf_counter() < deadline:
        per_call = clock(fn, n) / n
        history.append(per_call)
        if per_call * n < 0.01:
            n *= 2
            continue
        last = history[-3:]
        if len(last) == 3 and max(last) <= 1.1 * min(last):
            break
    return history[-1] if history else float("inf")


def measure_interleaved(fns: dict[str, Callable[[], None]], device: torch.device, repeats: int = 9,
                        target_seconds: float = 0.02) -> dict[str, Timing]:
    clock = _clock(device)
    per_call = {name: warm_up(fn, device) for name, fn in fns.items()}
    calls = {name: max(1, int(target_seconds / max(t, 1e-9))) for name, t in per_call.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(clock(fn, calls[name]) / calls[name] * 1e6)
    result = {}
    for name, values in samples.items():
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        result[name] = Timing(statistics.median(values), q[0], q[2], repeats, calls[name])
    return result
