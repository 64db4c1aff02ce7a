"""How a run reports progress: a rich progress bar, JSON lines for scripts, or nothing."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def format_row(row: dict[str, Any]) -> str:
    loss_g = "  -  " if math.isnan(row["loss_g"]) else f"{row['loss_g']:.3f}"
    speed = "-" if row.get("images_per_s") is None else f"{row['images_per_s']:.0f}"
    return (f"loss D {row['loss_d']:.3f}  G {loss_g}  D(x) {row['d_real']:.2f}  D(G(z)) {row['d_fake']:.2f}  "
            f"{speed} img/s")


def format_extent(steps: int, epochs: int, batch_in_epoch: int, batches_per_epoch: int, epochs_planned: int) -> str:
    """How far a run got, as its last line says it: "19525 steps, 25 epochs", "781 steps, 1 of 25 epochs",
    or, for a run that stopped inside an epoch, "30 steps (epoch 1 of 25: 30 of 781 batches)"."""
    done = f"{steps} step{'' if steps == 1 else 's'}"
    if not batch_in_epoch:
        of = "" if epochs == epochs_planned else f" of {epochs_planned}"
        return f"{done}, {epochs}{of} epoch{'' if epochs == 1 and not of else 's'}"
    inside = f"epoch {epochs + 1} of {epochs_planned}: {batch_in_epoch} of {batches_per_epoch} batches"
    if not epochs:
        return f"{done} ({inside})"
    return f"{done} ({epochs} epoch{'' if epochs == 1 else 's'}, then {inside})"


class RichReporter:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
                                 console=self.console, transient=True)
        self.task = None
        self.last = ""
        self.last_epoch: int | None = None  # the epoch (1-based) the last metrics row was logged in
        self.last_step: int | None = None
        self.log_every = 0

    def start(self, trainer) -> None:
        self.epochs = trainer.config.train.epochs
        self.log_every = trainer.config.output.log_every
        self.console.print(f"[bold]pygan[/] {trainer.config.model.arch} on {trainer.config.data.plugin} "
                           f"({trainer.spec.describe()}), {trainer.device}, run dir [cyan]{trainer.run_dir}[/]")
        self.progress.start()

    def epoch_start(self, epoch: int, batches: int, done: int) -> None:
        self.task = self.progress.add_task("", total=batches, completed=done, epoch=epoch + 1,
                                           epochs=self.epochs, stats=self.last)

    def step(self, step: int, row: dict[str, Any] | None) -> None:
        if row is not None:
            self.last, self.last_epoch, self.last_step = format_row(row), row.get("epoch"), step
        self.progress.update(self.task, advance=1, stats=self.last)

    def epoch_end(self, epoch: int) -> None:
        self.progress.remove_task(self.task)
        self.console.print(f"epoch {epoch}/{self.epochs}  {self._epoch_stats(epoch)}", highlight=False)

    def _epoch_stats(self, epoch: int) -> str:
        """The values of the last row logged in `epoch`; an epoch shorter than --log-every may have none."""
        if self.last_epoch == epoch:
            return self.last
        every = f"one every {self.log_every} steps" if self.log_every else "none logged"
        if self.last_step is None:
            return f"no metrics row yet ({every})"
        return f"no metrics row this epoch ({every}; last at step {self.last_step})"

    def message(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/]")

    def stop(self) -> None:
        self.progress.stop()


class SilentReporter:
    """Reports nothing (--quiet, ranks other than 0, notebooks)."""

    def start(self, trainer) -> None:
        pass

    def epoch_start(self, epoch, batches, done) -> None:
        pass

    def step(self, step, row) -> None:
        pass

    def epoch_end(self, epoch) -> None:
        pass

    def message(self, text) -> None:
        pass

    def stop(self) -> None:
        pass


class JsonReporter(SilentReporter):
    """One JSON object per metrics row on stdout."""

    def step(self, step, row) -> None:
        if row is not None:
            print(json.dumps(row), flush=True)
