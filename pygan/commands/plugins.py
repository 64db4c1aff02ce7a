"""`pygan plugins list`: every installed architecture and dataset plugin, ok or broken."""

from __future__ import annotations

import dataclasses
import json

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Installed plugins (architectures and datasets).", no_args_is_help=True)


@app.command("list")
def list_plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Name, kind, distribution and version, and status (ok, or broken with the reason)."""
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
