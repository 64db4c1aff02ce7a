"""The `pygan` command line: a thin Typer skin over the Python API (one module per command in
pygan/commands/)."""

from __future__ import annotations

import typer

from pygan.commands import bench, evaluate, info, plugins, sample, train

app = typer.Typer(help="pygan: GANs on fused C++/CUDA kernels.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.command()(train.train)
app.command()(sample.sample)
app.command()(evaluate.evaluate)
app.command()(info.info)
app.add_typer(plugins.app, name="plugins")
app.add_typer(bench.app, name="bench")


def main() -> None:
    app()
