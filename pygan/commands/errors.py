"""Turns the user's mistakes (bad options, unknown plugins, unreadable files) into a one-line
message and exit code 2, never a traceback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    from pygan.data.image_files import ImageFolderError
    from pygan.plugins import PluginError
    from pygan.training.checkpoint import CheckpointError
    from pygan.training.config import ConfigError
    from pygan.training.trainer import TrainingError

    try:
        yield
    except (ConfigError, PluginError, CheckpointError, TrainingError, ImageFolderError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
