"""How a run reports progress: a rich progress bar, JSON lines for scripts, or nothing."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def format_row(row: dict[str, Any]) -> str:
    loss_g = "  -  " if math.isnan(row["loss_g"]) else f"{row['loss_g']:.3f}"
    return (f"loss D {row['loss_d']:.3f}  G {loss_g}  D(x) {row['d_real']:.2f}  D(G(z)) {row['d_fake']:.2f}  "
            f"{row['images_per_s']:.0f} img/s")


class RichReporter:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
                                 console=self.console, transient=True)
        self.task = None
        self.last = ""

    def start(self, trainer) -> None:
        self.epochs = trainer.config.train.epochs
        self.console.print(f"[bold]pygan[/] {trainer.config.model.arch} on {trainer.config.data.plugin} "
                           f"({trainer.spec.describe()}), {trainer.device}, run dir [cyan]{trainer.run_dir}[/]")
        self.progress.start()

    def epoch_start(self, epoch: int, batches: int, done: int) -> None:
        self.task = self.progress.add_task("", total=batches, completed=done, epoch=epoch + 1,
                                           epochs=self.epochs, stats=self.last)

    def step(self, step: int, row: dict[str, Any] | None) -> None:
        if row is not None:
            self.last = format_row(row)
        self.progress.update(self.task, advance=1, stats=self.last)

    def epoch_end(self, epoch: int) -> None:
        self.progress.remove_task(self.task)
        self.console.print(f"epoch {epoch}/{self.epochs}  {self.last}")

    def message(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]")

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
