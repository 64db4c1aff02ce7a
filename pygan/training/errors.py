"""How training refuses to start, or stops."""

from __future__ import annotations

from pygan.errors import PyganError


class TrainingError(PyganError, RuntimeError):
    """Training cannot start or go on; the message says why and what to do."""


class TrainingStopped(RuntimeError):
    """Training stopped before its end (the CLI exits with its own code, not 2)."""


class NonFiniteLoss(TrainingStopped):
    """A loss became NaN or Inf; the run stopped and kept its last good checkpoint."""


class Interrupted(TrainingStopped):
    """Ctrl-C or SIGTERM: the run saved a checkpoint and stopped."""
