"""The `pygan` command line: a thin Typer skin over the Python API (one module per command in
pygan/commands/). Importing it imports no torch: `pygan --help` and `pygan --version` answer at once,
and each command imports what it needs when it runs."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from pygan.commands import bench, evaluate, info, plugins, sample, train

_REQUIRED_ARGUMENT = re.compile(r"\{(.+)\}(\.\.\.)?")
# Metavars for options that name none, in click's words (Typer would print <int range>, <list[str]>).
_TYPE_METAVARS = {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "Path": "PATH"}


def _readable(params: list[Any]) -> None:
    """Help that names values the Unix way: `--repeats INTEGER`, `RUN` (not `{run} <path>`), no `<bool>`."""
    for param in params:
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "").upper()
            param.display_type_rich = lambda ctx: None  # the metavar says it: not `RUN <path>`
        elif isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
            bare = re.sub(r"^list\[(.*)\]$", r"\1", param.bare_type())
            param.metavar = _TYPE_METAVARS.get(bare, "VALUE")


class Command(TyperCommand):
    """A pygan command: readable value names, usage lines as Unix help writes them (`pygan sample
    [OPTIONS] RUN`, not Typer's `{checkpoint}`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _readable(self.params)

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        return [_REQUIRED_ARGUMENT.sub(r"\1\2", piece) for piece in super().collect_usage_pieces(ctx)]


class Group(TyperGroup):
    """A pygan command group (`pygan bench`, whose own options live on the group)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _readable(self.params)


def _version(value: bool) -> None:
    if value:
        from pygan import __version__

        typer.echo(f"pygan {__version__}")
        raise typer.Exit()


# Plain help (rich_markup_mode=None, inherited by every subcommand): at 80 columns Rich's option table
# cut option names short and read "[data]" in help text as markup; click's layout wraps only the help.
app = typer.Typer(help="pygan: GANs on fused C++/CUDA kernels.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", help="Print pygan's version and exit.",
                                       callback=_version, is_eager=True)) -> None:
    """pygan: GANs on fused C++/CUDA kernels."""


for command in (train.train, sample.sample, evaluate.evaluate, info.info):
    app.command(cls=Command)(command)
for group in (plugins.app, bench.app):  # their commands read the same way as the top-level ones
    for registered in group.registered_commands:
        if registered.cls in (None, TyperCommand):
            registered.cls = Command
app.add_typer(plugins.app, name="plugins", cls=Group)
app.add_typer(bench.app, name="bench", cls=Group)


def main() -> None:
    app()
