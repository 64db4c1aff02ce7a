"""`pygan plugins list`: every installed plugin (architectures, datasets, losses, regularisers,
augmentations), ok or broken."""

from __future__ import annotations

import dataclasses
import json

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Installed plugins of every kind, and whether each one loads.", no_args_is_help=True)


@app.command("list")
def list_plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Every installed plugin: kind, distribution, ok or broken (and why)."""
    from pygan import plugins

    rows = plugins.check_all()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    table = Table(title="pygan plugins")
    for column in ("name", "kind", "distribution", "status", "description / reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        status = "[green]ok[/]" if r.status == "ok" else "[red]broken[/]"
        table.add_row(r.name, r.kind, f"{r.distribution} {r.version}", status,
                      r.description if r.status == "ok" else r.reason)
    Console().print(table)
