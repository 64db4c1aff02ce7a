"""`pygan info`: versions, the kernel path each op takes on each device, the CPU's SIMD level."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table


def info(as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Versions, the kernel path each op takes on each device, and the CPU's SIMD level."""
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
    ops = Table(title="op paths")
    devices = list(next(iter(report["ops"].values())))
    ops.add_column("op")
    for d in devices:
        ops.add_column(d)
    for op, paths in report["ops"].items():
        ops.add_row(op, *(paths[d] for d in devices))
    console.print(ops)
