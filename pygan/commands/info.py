"""`pygan info`: versions, the kernel path each op takes on each device, the CPU's SIMD level."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def info(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Versions, each op's kernel path per device, the SIMD level."""
    from pygan.info import collect

    report = collect()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    table = Table(title="pygan", show_header=False)
    for key, value in report.items():
        if key != "ops":
            table.add_row(key, str(value))
    console.print(table)
    # Without a CUDA device no tensor can take a CUDA path: a column of them would only mislead.
    devices = [d for d in next(iter(report["ops"].values())) if d != "cuda" or report["cuda_available"]]
    ops = Table(title="op paths", caption=None if report["cuda_available"] else "no CUDA device here")
    ops.add_column("op")
    for d in devices:
        ops.add_column(d)
    for op, paths in report["ops"].items():
        ops.add_row(op, *(paths[d] for d in devices))
    console.print(ops)
