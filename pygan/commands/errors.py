"""Turns the user's mistakes (bad options, unknown plugins, unreadable files) into a one-line
message and exit code 2, never a traceback; Ctrl-C while a command sets up ends it with exit code
130 and one line."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from pygan.errors import PyganError

# User errors that were defined before pygan.errors.PyganError, by module: matched only when their
# module is loaded (it is, when one of them was raised), so checking them imports nothing.
_OLDER_USER_ERRORS = (("pygan.training.trainer", "TrainingError"), ("pygan.metrics.evaluate", "EvaluationError"))


def _older_user_errors() -> tuple[type[BaseException], ...]:
    found = (getattr(sys.modules.get(module), name, None) for module, name in _OLDER_USER_ERRORS)
    return tuple(cls for cls in found if isinstance(cls, type) and issubclass(cls, Exception))


@contextlib.contextmanager
def exit_on_user_error(interrupted: str = "interrupted; nothing was written") -> Iterator[None]:
    """Any PyganError in the block: "Error: <message>" on stderr, exit 2. Ctrl-C: `interrupted`, exit 130
    (the block must then have written nothing, as set-up code does)."""
    try:
        yield
    except PyganError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        typer.echo(interrupted, err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        if isinstance(exc, _older_user_errors()):
            _fail(exc)
        raise


def _fail(exc: BaseException) -> None:
    typer.echo(f"Error: {exc}", err=True)
    raise typer.Exit(2) from None
