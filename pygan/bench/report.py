"""Bench output: the machine's description, a rich table, JSON, and a plot."""

from __future__ import annotations

import io
import os
import platform
from collections import defaultdict
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from pygan.atomic import write_bytes_atomic
from pygan.training.precision import cpu_info

# The instruction sets that decide which kernels run (pygan's, ATen's and oneDNN's builds).
_ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_bf16", "amx_tile")


def machine() -> dict[str, Any]:
    fields = cpu_info()
    cpu = fields.get("model name") or platform.processor()
    flags = set(fields["flags"].split()) if "flags" in fields else None
    info = {"cpu": cpu, "cpu_family": fields.get("cpu family"), "cpu_model": fields.get("model"),
            "cpu_flags": [f for f in _ISA_FLAGS if f in flags] if flags is not None else None,
            "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        from pygan._extension import _C
        info["pygan_cpu_isa"] = _C.cpu_isa() if _C is not None else "reference"
    except ImportError:
        pass
    return info


def describe(info: dict[str, Any]) -> str:
    """One line naming the machine a table was measured on: CPU model, family, ISA, threads."""
    cpu = info.get("cpu") or "unknown CPU"
    if info.get("cpu_family"):
        cpu += f" (family {info['cpu_family']} model {info.get('cpu_model')})"
    flags = info.get("cpu_flags")
    isa = "ISA unknown" if flags is None else ", ".join(flags) if flags else "no AVX2"
    line = (f"measured on {cpu}; {isa}; pygan kernels {info.get('pygan_cpu_isa', '?')}, ATen "
            f"{info.get('cpu_capability', '?')}; {info.get('threads')} threads of {info.get('cores')} cores; "
            f"torch {info.get('torch')}")
    if info.get("gpu"):
        line += f"; GPU {info['gpu']}"
    return line


def _fmt_us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} us"


# Columns: the fused op, the eager spellings, then the compiled one; any other provider after them.
_PROVIDER_ORDER = ("pygan", "eager textbook", "eager stable", "eager", "torch.compile")


def _provider_order(rows: list[dict[str, Any]]) -> list[str]:
    seen = list(dict.fromkeys(r["provider"] for r in rows))
    return [p for p in _PROVIDER_ORDER if p in seen] + [p for p in seen if p not in _PROVIDER_ORDER]


def ops_table(rows: list[dict[str, Any]]) -> Table:
    """One line per (op, shape, dtype, mode): each provider's median, pygan's speed-ups, bandwidth."""
    groups: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        groups[(r["op"], "x".join(map(str, r["shape"])), r["dtype"], r["mode"])][r["provider"]] = r
    providers = _provider_order(rows)
    table = Table(title="fused ops: median time per call (speed-up of pygan over each)")
    for col in ("op", "shape", "dtype", "mode", *providers, "pygan % copy BW", "saved extra (pygan / eager)"):
        table.add_column(col, justify="right" if col not in ("op", "mode") else "left",
                         min_width=max(len(r["op"]) for r in rows) if col == "op" else None)
    for (op, shape, dtype, mode), by in groups.items():
        ours = by["pygan"]["median_us"]
        cells = []
        for p in providers:
            if p not in by:
                cells.append("-")
            elif p == "pygan":
                cells.append(_fmt_us(ours))
            else:
                cells.append(f"{_fmt_us(by[p]['median_us'])} ({by[p]['median_us'] / ours:.2f}x)")
        frac = by["pygan"].get("fraction_of_copy_bandwidth")
        saved = "-"
        eager = next((by[p] for p in ("eager stable", "eager") if p in by), None)  # the compiled one
        if "extra_saved_bytes" in by["pygan"] and eager is not None:
            ours_mb, eager_mb = by["pygan"]["extra_saved_bytes"] / 1e6, eager["extra_saved_bytes"] / 1e6
            saved = f"{ours_mb:.1f} / {eager_mb:.1f} MB"
        table.add_row(op, shape, dtype, mode, *cells, f"{100 * frac:.0f}%" if frac else "-", saved)
    return table


def train_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"DCGAN training step, {result['size']} px, batch {result['batch']}")
    for col in ("variant", "precision", "channels last", "ms / step", "images / s", "vs plain eager", "compile s"):
        table.add_column(col)
    for r in result["rows"]:
        speedup = r.get("speedup_vs_plain_eager")
        compile_s = r.get("compile_seconds")
        table.add_row(r["provider"], r.get("precision", ""), "yes" if r.get("channels_last") else "no",
                      f"{r['median_ms_per_step']:.0f}", f"{r['images_per_s']:.1f}",
                      f"{speedup:.2f}x" if speedup else "", f"{compile_s:.1f}" if compile_s else "")
    table.caption = ("medians of interleaved repeats after warm-up; compile s = the first (compiling) step; "
                     "a later variant reuses graphs an earlier one compiled; vs plain eager = against the plain "
                     "step with the same loss and penalty; a lazy penalty's repeats hold whole intervals")
    return table


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Speed-up of pygan over each other provider, forward+backward, one bar group per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cases: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r["mode"] == "fwd+bwd":
            cases[f"{r['op']} {'x'.join(map(str, r['shape']))} {r['dtype']}"][r["provider"]] = r["median_us"]
    others = [p for p in _provider_order(rows) if p != "pygan"]
    labels = list(cases)
    x = np.arange(len(labels))
    width = 0.8 / max(len(others), 1)
    fig, ax = plt.subplots(figsize=(max(8, len(labels) * 0.45), 6))
    for i, p in enumerate(others):
        ax.bar(x + i * width, [cases[c].get(p, np.nan) / cases[c]["pygan"] for c in labels], width, label=p)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(x + width * (len(others) - 1) / 2, labels, fontsize=7, rotation=90)
    ax.set_yscale("log")  # ratios: 0.5x and 2x lie equally far from 1x
    ax.set_ylabel("speed-up of pygan (x, log scale)")
    ax.set_title("pygan fused ops, forward+backward: time of provider / time of pygan")
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(buffer.getvalue(), path)


def print_tables(console: Console, result: dict[str, Any]) -> None:
    """Each table, followed by the machine it was measured on (numbers differ by CPU family)."""
    where = describe(result["machine"]) if "machine" in result else None
    if "ops" in result:
        console.print(ops_table(result["ops"]["rows"]))
        if where:
            console.print(where)
    if "train" in result:
        console.print(train_table(result["train"]))
        if where:
            console.print(where)
        for note in result["train"].get("skipped", []):
            console.print(note)
