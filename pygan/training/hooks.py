"""What a run leaves behind, as hooks the loop calls at its start, after each step, at each epoch's
end and at the run's end: the metrics file, sample grids, the training plot, checkpoints and their
rotation, evaluations, TensorBoard events and the progress display. Only rank 0 gets the hooks that write files.

Whatever ends a run (its epochs, --max-steps, Ctrl-C/SIGTERM, a non-finite loss) its end hooks
write a last metrics row, a sample grid and the plot from what it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pygan.generate import generate
from pygan.metrics.evaluate import FeatureSource, evaluate, feature_source
from pygan.training import artifacts
from pygan.training.tensorboard_log import TensorBoardLog

if TYPE_CHECKING:
    from pygan.training.trainer import Trainer

# Why a run ended, as the end hooks hear it.
DONE, MAX_STEPS, INTERRUPTED, NON_FINITE = "done", "max-steps", "interrupted", "non-finite"


class Hook:
    """Override what you need; every method does nothing by default."""

    def on_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer) -> None: ...
    def on_step(self, trainer: Trainer, row: dict[str, Any] | None) -> None: ...
    def on_epoch_end(self, trainer: Trainer) -> None: ...
    def on_end(self, trainer: Trainer, reason: str) -> None: ...


class ProgressHook(Hook):
    """The reporter (progress bar, JSON lines or nothing) the CLI chose."""

    def __init__(self, reporter) -> None:
        self.reporter = reporter

    def on_start(self, trainer: Trainer) -> None:
        self.reporter.start(trainer)
        for note in start_notes(trainer):
            self.reporter.message(note)

    def on_epoch_start(self, trainer: Trainer) -> None:
        self.reporter.epoch_start(trainer.epoch, trainer.batches_per_epoch, trainer.batch_in_epoch)

    def on_step(self, trainer: Trainer, row: dict[str, Any] | None) -> None:
        self.reporter.step(trainer.step, row)

    def on_epoch_end(self, trainer: Trainer) -> None:
        self.reporter.epoch_end(trainer.epoch)

    def on_end(self, trainer: Trainer, reason: str) -> None:
        self.reporter.stop()


# Samples an epoch leaves out are worth a word once they are this share of the data (with 50,000 points
# and batch 64 the 16 left out are not; with 30 images and batch 16, 14 are).
NOTABLE_LEFT_OUT = 0.01


def start_notes(trainer: Trainer) -> list[str]:
    """What the user should know once, as a run starts: where a resumed run goes on from, what the data
    does to the images (its `notes()`, e.g. an image folder's upscaling), and samples each epoch leaves out."""
    notes = []
    if trainer.resumed:
        at = f"epoch {trainer.epoch + 1} of {trainer.run.train.epochs}"
        if trainer.batch_in_epoch:
            at += f", after {trainer.batch_in_epoch} of its {trainer.batches_per_epoch} batches"
        notes.append(f"resuming at step {trainer.step} ({at})")
    data_notes = getattr(trainer.dataset, "notes", None)
    if callable(data_notes):
        notes += list(data_notes())
    total, per_step = len(trainer.dataset), trainer.samples_per_step
    left_out = total % per_step
    if left_out and left_out / total >= NOTABLE_LEFT_OUT:
        notes.append(f"{total} samples, {per_step} per step: each epoch leaves {left_out} out (different ones each "
                     f"time, the order is reshuffled); a --batch-size that divides {total} uses all")
    return notes


class SamplesHook(Hook):
    """A grid (or a 2-D scatter) from the fixed noise after every epoch, and at the run's end."""

    def __init__(self) -> None:
        self.drawn_at: int | None = None

    def draw(self, trainer: Trainer, path: Path) -> None:
        labels = trainer.fixed_labels
        samples = generate(trainer.gan.sample_generator(), trainer.fixed_noise.to(trainer.device), labels)
        samples = torch.nan_to_num(samples.float())  # a run stopped by a NaN still leaves a (blank) grid
        spec = trainer.spec
        if spec.is_image:  # labelled: one row per class
            artifacts.save_image_grid(samples, path, spec.value_range or (-1.0, 1.0), nrow=trainer.grid_columns,
                                      row_labels=spec.classes)
        elif spec.shape == (2,):
            artifacts.save_scatter(samples, path, trainer.real_preview, f"step {trainer.step}",
                                   labels=labels, classes=spec.classes)
        self.drawn_at = trainer.step

    def on_epoch_end(self, trainer: Trainer) -> None:
        self.draw(trainer, trainer.run_dir / "samples" / f"epoch-{trainer.epoch:04d}.png")

    def on_end(self, trainer: Trainer, reason: str) -> None:
        if self.drawn_at != trainer.step:  # a run cut inside an epoch: a grid of where it stopped
            self.draw(trainer, trainer.run_dir / "samples" / f"step-{trainer.step:07d}.png")


class EvaluationHook(Hook):
    """--eval-every N: scores the generator in memory against the data the trainer holds, on the
    features of --eval-features (built once: a missing Inception file stops the run at its start)."""

    def __init__(self) -> None:
        self.source: FeatureSource | None = None

    def on_start(self, trainer: Trainer) -> None:
        if trainer.run.train.eval_every and trainer.spec.is_image:
            self.source = feature_source(trainer.run.train.eval_features)

    def features(self, trainer: Trainer) -> FeatureSource | str:
        return self.source or trainer.run.train.eval_features

    def on_epoch_end(self, trainer: Trainer) -> None:
        every = trainer.run.train.eval_every
        if not every or trainer.epoch % every:
            return
        run, arch = trainer.run, trainer.arch

        def latent(n: int, seed: int) -> torch.Tensor:
            seeded = torch.Generator().manual_seed(seed)
            return arch.sample_latent(n, run.data_spec, run.model_options, generator=seeded)

        report = evaluate(trainer.gan.sample_generator(), latent, run.data_plugin, run.data_options,
                          data=trainer.dataset, features=self.features(trainer))
        trainer.metrics.append({"step": trainer.step, "epoch": trainer.epoch,
                                "eval": {**report, "ema": trainer.gan.ema is not None}})


class PlotHook(Hook):
    """training.png: losses and D outputs over the run, redrawn at every epoch's end and the run's end."""

    def _draw(self, trainer: Trainer) -> None:
        if trainer.metrics.rows:
            artifacts.save_training_plot(trainer.metrics.rows, trainer.run_dir / "training.png",
                                         probabilities=trainer.gan.loss.probabilities)

    def on_epoch_end(self, trainer: Trainer) -> None:
        self._draw(trainer)

    def on_end(self, trainer: Trainer, reason: str) -> None:
        self._draw(trainer)


class TensorBoardHook(Hook):
    """--tensorboard: every metrics row (evaluations too) and every sample grid, as they appear."""

    def __init__(self) -> None:
        self.log: TensorBoardLog | None = None

    def on_start(self, trainer: Trainer) -> None:
        if trainer.run.output.tensorboard:
            self.log = TensorBoardLog(trainer.run_dir, len(trainer.metrics.rows), trainer.step)

    def on_step(self, trainer: Trainer, row: dict[str, Any] | None) -> None:
        if self.log is not None and row is not None:
            self.log.write(trainer.metrics.rows, trainer.step)

    def on_epoch_end(self, trainer: Trainer) -> None:
        if self.log is not None:
            self.log.write(trainer.metrics.rows, trainer.step)

    def on_end(self, trainer: Trainer, reason: str) -> None:
        if self.log is not None:
            self.log.write(trainer.metrics.rows, trainer.step)
            self.log.close()
            self.log = None


class CheckpointHook(Hook):
    """latest.pt every --checkpoint-every steps, at every epoch's end and at the run's end; epoch files
    kept for the last `[output] keep_checkpoints` epochs (a TOML key). Never after a non-finite loss: the
    last good one stays."""

    def __init__(self) -> None:
        self.saved_at: int | None = None

    def _save(self, trainer: Trainer, name: str) -> None:
        trainer.save_checkpoint(name)
        self.saved_at = trainer.step

    def on_step(self, trainer: Trainer, row: dict[str, Any] | None) -> None:
        every = trainer.run.output.checkpoint_every
        if every and trainer.step % every == 0:
            self._save(trainer, "latest.pt")

    def on_epoch_end(self, trainer: Trainer) -> None:
        self._save(trainer, "latest.pt")
        keep = trainer.run.output.keep_checkpoints
        if keep:
            self._save(trainer, f"epoch-{trainer.epoch:04d}.pt")
            for old in sorted((trainer.run_dir / "checkpoints").glob("epoch-*.pt"))[:-keep]:
                old.unlink()

    def on_end(self, trainer: Trainer, reason: str) -> None:
        if reason != NON_FINITE and self.saved_at != trainer.step:
            self._save(trainer, "latest.pt")


def standard_hooks(reporter, *, writes_files: bool) -> list[Hook]:
    """The hooks of `pygan train`, in the order they run; rank 0 alone gets the ones that write files."""
    hooks: list[Hook] = [ProgressHook(reporter)]
    if writes_files:
        hooks += [SamplesHook(), EvaluationHook(), PlotHook(), TensorBoardHook(), CheckpointHook()]
    return hooks
