"""Where a DCGAN training step spends its time: torch.profiler over pygan's step (the trainer's
GanStep; on CPUs where pygan takes the convolutions' weight gradients, also with oneDNN's) and the
plain eager step of `pygan bench train`, grouped into convolutions, pygan's fused ops, the
optimiser and the rest.

    python benchmarks/profile_step.py [--image-size 64] [--batch-size 64] [--steps 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

GROUPS = (  # first match wins; names are the profiler's op names
    # pygan's weight gradients: the patch copies (the op's self time) and the GEMM (addmm)
    ("conv weight grads (pygan im2col + GEMM)", ("conv2d_weight_grad", "addmm")),
    ("convolution (oneDNN)", ("convolution", "mkldnn")),
    ("pygan fused ops", ("pygan::",)),
    ("BatchNorm / activations (ATen)", ("batch_norm", "leaky_relu", "threshold", "relu", "tanh")),
    ("optimiser (Adam)", ("adam", "addcdiv", "addcmul", "lerp", "sqrt")),
    ("copies and layout", ("copy_", "_to_copy", "contiguous", "clone")),
)


def _group(name: str) -> str:
    low = name.lower()
    for group, keys in GROUPS:
        if any(k in low for k in keys):
            return group
    return "other"


def _profile(step, steps: int) -> dict[str, float]:
    """Self CPU time per group, ms per step (self time: each microsecond is counted once)."""
    step()
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return ms_by_group(prof, steps)


def ms_by_group(prof, steps: int) -> dict[str, float]:
    """A finished profile's self CPU time per group, ms per step, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        totals[_group(event.key)] += event.self_cpu_time_total / 1e3 / steps
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def print_groups(profiles: dict[str, dict[str, float]]) -> None:
    """One column per profile, one row per group, and their totals."""
    groups = list(dict.fromkeys(g for p in profiles.values() for g in p))
    width = max(34, *(len(g) + 2 for g in groups))
    column = max(20, *(len(label) + 2 for label in profiles))  # labels never run into each other
    print(f"{'ms per step (self CPU time)':{width}s}" + "".join(f"{label:>{column}s}" for label in profiles))
    for g in groups:
        print(f"{g:{width}s}" + "".join(f"{p.get(g, 0.0):{column}.1f}" for p in profiles.values()))
    print(f"{'total':{width}s}" + "".join(f"{sum(p.values()):{column}.1f}" for p in profiles.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from pygan.bench import train_step
    from pygan.bench.report import describe, machine

    device = torch.device("cpu")
    plain = train_step.VARIANTS[0]
    # pygan fp32 with oneDNN's weight gradients, where that is not pygan fp32 itself (CPUs without AVX-512)
    chosen = train_step.choose_variants(device, with_compile=False, bf16=False)[0]
    pygan = [v for v in chosen if v.label in ("pygan fp32", "pygan fp32, oneDNN weight grads")]
    result = {}
    for variant in (plain, *pygan):
        step, _ = train_step._step_fn(variant, device, args.image_size, args.batch_size)
        result[variant.label] = _profile(step, args.steps)
    print_groups(result)
    info = machine()
    print(describe(info))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "size": args.image_size, "batch": args.batch_size,
                                         "ms_per_step": result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
