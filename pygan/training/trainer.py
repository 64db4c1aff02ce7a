"""The training loop: epochs of seeded batches through one GanStep, signals, --max-steps, metrics
rows, and hooks that write what a run leaves behind. Usable from Python:

    config = Config(); config.model.arch = "mlp"; config.data.plugin = "ring8"
    Trainer(config).fit()
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from pygan import plugins
from pygan.atomic import write_text_atomic
from pygan.errors import PyganWarning
from pygan.plugin_checks import checked_load
from pygan.training import checkpoint, distributed, run_dir, seeds, threads
from pygan.training.checkpoint_checks import check_keys, load_weights
from pygan.training.config import Config, ConfigError, dumps
from pygan.training.errors import Interrupted, NonFiniteLoss, TrainingError, TrainingStopped
from pygan.training.fixed_samples import fixed_labels, sample_of
from pygan.training.hooks import DONE, INTERRUPTED, MAX_STEPS, NON_FINITE, Hook, standard_hooks
from pygan.training.metrics_log import MetricsLog
from pygan.training.progress import SilentReporter
from pygan.training.resume import CHECKPOINT_KEYS, resumed_config
from pygan.training.run_spec import RunSpec, resolve, resolve_device
from pygan.training.step import GanStep

__all__ = ["Interrupted", "NonFiniteLoss", "SilentReporter", "Trainer", "TrainingError", "TrainingStopped"]

class Trainer:
    def __init__(self, config: Config | RunSpec, *, reporter=None, resume_from: str | Path | None = None,
                 overrides: dict[tuple[str, str], Any] | None = None, allow_older: bool = False,
                 hooks: list[Hook] | None = None) -> None:
        state = None
        self.resumed = resume_from is not None
        if resume_from is not None:
            self.run_dir, path = run_dir.for_resume(resume_from, allow_older=allow_older)
            state = checkpoint.load(path)
            check_keys(state, path, CHECKPOINT_KEYS)
            config = resumed_config(state, overrides or {}, path)
        self.run = config if isinstance(config, RunSpec) else resolve(config)
        if state is None:
            self.run_dir = Path(self.run.output.out)
        t = self.run.train
        device = resolve_device(t.device)
        self.dist = distributed.setup(device.type)
        if self.dist.enabled and device.type == "cuda":
            device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(device)
        if t.batch_size % self.dist.world:
            raise ConfigError(f"--batch-size {t.batch_size} is the global batch; it must divide evenly over "
                              f"{self.dist.world} processes")
        if t.sync_bn and device.type != "cuda" and self.dist.enabled:
            raise ConfigError("--sync-bn needs CUDA devices (torch's SyncBatchNorm does not run on the CPU); "
                              "without it each process keeps its own BatchNorm statistics")
        self.device = device
        self.gan = GanStep(self.run, dist=self.dist, device=device)
        data_plugin = plugins.get_dataset(self.run.data_plugin)
        self.dataset = checked_load(self.run.data_plugin, data_plugin, self.run.data_options, self.run.data_spec)
        self.samples_per_step = self.run.samples_per_step
        if len(self.dataset) < self.samples_per_step:
            raise TrainingError(f"--plugin {self.run.data_plugin} yields {len(self.dataset)} samples, fewer than "
                                f"one step's {self.samples_per_step} (--batch-size {t.batch_size} x --pack {t.pack});"
                                " lower the batch size")
        if self.run.conditional:
            self.gan.use_class_frequencies(self.dataset.labels)
        self.batches_per_epoch = len(self.dataset) // self.samples_per_step
        self.gan.total_steps = t.epochs * self.batches_per_epoch  # --max-steps only cuts the run short
        # For 2-D data the sample plots show a faint cloud of real points behind the samples.
        self.real_preview = (torch.stack([sample_of(self.dataset[i]) for i in range(min(len(self.dataset), 2000))])
                             if self.spec.shape == (2,) else None)
        # Fixed noise for the per-epoch samples: a grid of images, or a cloud of 2-D points. On labelled
        # data, fixed labels too: a grid of one row per class, a cloud coloured by class.
        self.fixed_labels, self.grid_columns = fixed_labels(self.spec, self.run.output.samples)
        n_fixed = len(self.fixed_labels) if self.fixed_labels is not None else (
            self.run.output.samples if self.spec.is_image else max(self.run.output.samples, 1000))
        self.fixed_noise = self.arch.sample_latent(n_fixed, self.spec, self.run.model_options,
                                                   generator=torch.Generator().manual_seed(t.seed + seeds.FIXED_NOISE))
        self.epoch = 0
        self.batch_in_epoch = 0
        self.compile_seconds: float | None = None
        self._stop_requested = False
        self._row_step = 0  # the step of the last metrics row
        self.threads: threads.ThreadChoice | None = None
        self._contention: threads.ContentionWatch | None = None
        if state is not None:
            self._load_state(state, path)
        self.hooks = hooks if hooks is not None else standard_hooks(reporter or SilentReporter(),
                                                                    writes_files=self.dist.is_main)
        self.config = self.run.to_config()  # a Config view of the run, for reporters and callers

    # ------------------------------------------------------------ views of the step

    @property
    def step(self) -> int:
        return self.gan.step

    @property
    def spec(self) -> plugins.DataSpec:
        return self.run.data_spec

    @property
    def arch(self) -> plugins.Architecture:
        return self.gan.arch

    @property
    def model_options(self):
        return self.run.model_options

    @property
    def generator(self) -> torch.nn.Module:
        return self.gan.generator

    @property
    def discriminator(self) -> torch.nn.Module:
        return self.gan.discriminator

    @property
    def opt_g(self) -> torch.optim.Optimizer:
        return self.gan.opt_g

    @property
    def ema(self):
        return self.gan.ema

    @property
    def precision(self):
        return self.gan.precision

    # ------------------------------------------------------------ state

    def _load_state(self, state: dict[str, Any], path: Path) -> None:
        self.gan.load_state_dict(state, lambda module, weights, what: load_weights(module, weights, what, path))
        self.fixed_noise = state["fixed_noise"]
        self.epoch, self.batch_in_epoch = state["epoch"], state["batch_in_epoch"]
        self._row_step = self.gan.step
        if self.batch_in_epoch > self.batches_per_epoch:
            raise TrainingError(f"the checkpoint stopped after batch {self.batch_in_epoch} of an epoch, but an epoch "
                                f"here has {self.batches_per_epoch} batches: the data differs from the run's (or "
                                "the checkpoint predates --batch-size counting packs); start a new run")

    def state_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {"config": self.run.to_dict(),
                "spec": {"shape": list(spec.shape), "value_range": list(spec.value_range or []),
                         "classes": list(spec.classes)},
                "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch, "fixed_noise": self.fixed_noise,
                **self.gan.state_dict()}

    def save_checkpoint(self, name: str) -> None:
        """RUN/checkpoints/<name>, never with a non-finite loss since the last row (the last good one stays)."""
        self._check_finite()
        checkpoint.save_atomic(self.state_dict(), self.run_dir / "checkpoints" / name)

    # ------------------------------------------------------------ the loop

    def _batches(self) -> Iterator[list[torch.Tensor]]:
        """The epoch's shuffled batches, from a permutation that depends only on (seed, epoch)."""
        seed = seeds.data_order(self.run.train.seed, self.epoch)
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(seed))
        size = self.samples_per_step  # global: each rank takes its share
        batches = [self.dist.shard(order[i * size:(i + 1) * size]).tolist()
                   for i in range(self.batch_in_epoch, self.batches_per_epoch)]
        for batch in torch.utils.data.DataLoader(self.dataset, batch_sampler=batches):
            yield list(batch) if self.run.conditional else [batch]  # [samples] or [samples, labels]

    def _emit(self, event: str, *args: Any) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self, *args)

    def _timed_emit(self, event: str, *args: Any) -> float:
        start = time.perf_counter()
        self._emit(event, *args)
        return time.perf_counter() - start

    def _check_finite(self) -> None:
        """Stops the run if a loss went NaN or Inf since the last row (one host read)."""
        d_ok, g_ok = self.gan.log.finite()
        if d_ok and g_ok:
            return
        which = "discriminator" if not d_ok else "generator"
        first, last = self._row_step + 1, self.step
        at = f"at step {last}" if first == last else f"between steps {first} and {last}"
        raise NonFiniteLoss(f"the {which} loss became {'nan' if not d_ok else 'non-finite'} {at} (epoch "
                            f"{self.epoch + 1}); training stopped. {run_dir.last_checkpoint_note(self.run_dir)}. "
                            "Try a lower --lr, --real-label 0.9, or --precision fp32")

    def _row(self, elapsed: float, steps: int, partial: bool = False) -> dict[str, Any]:
        """The metrics row of the steps since the last one: the one read of the logged values."""
        self._check_finite()
        means = self.gan.log.read(self.dist)
        row = {"step": self.step, "epoch": self.epoch + 1, **means,
               # None where the interval held only the compiling first step (its time is compile_seconds)
               "images_per_s": steps * self.samples_per_step / max(elapsed, 1e-9) if steps else None,
               "lr": self.gan.opt_g.param_groups[0]["lr"], "threads": torch.get_num_threads()}
        if self._contention is not None and (note := self._contention.check()):
            self._message(note)
        if self.gan.loss.minimax_value(self.run.train.loss_options):
            # V(D, G) = -loss_D <= V(D*, G) = -log 4 + 2 JSD(p_data || p_g): a lower bound on the JSD
            row["jsd_lower_bound"] = max(0.0, math.log(2) - means["loss_d"] / 2)
        if self.gan.augmentation is not None:
            row["augment_p"] = float(self.gan.augment_strength)
        if partial:
            row["partial"] = True
        return row

    def fit(self) -> dict[str, Any]:
        """Trains to the configured length (or until interrupted); returns a summary."""
        main = self.dist.is_main  # only rank 0 writes the run directory
        lock = None
        previous: dict = {}
        started = time.perf_counter()
        reason = None
        threads_before = torch.get_num_threads()
        finished = False
        try:
            if main:
                if not self.resumed:
                    run_dir.for_new_run(self.run_dir)  # never over an existing run
                lock = run_dir.RunLock(self.run_dir).__enter__()
                run_dir.check_writable(self.run_dir)
                run_dir.clean_stale_temps(self.run_dir)
                write_text_atomic(dumps(self.config), self.run_dir / "config.toml")
            self._choose_threads()
            if self.gan.precision.warning:  # a warning, not a progress line: --quiet and notebooks see it too
                warnings.warn(self.gan.precision.warning, PyganWarning, stacklevel=2)
            self.metrics = MetricsLog(self.run_dir / "metrics.jsonl" if main else None)
            self.metrics.truncate_after(self.step)
            if threading.current_thread() is threading.main_thread():
                previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
            self._emit("on_start")
            reason = self._loop()
            finished = True
        except NonFiniteLoss:
            reason = NON_FINITE
            raise
        except Interrupted:
            reason = INTERRUPTED
            raise
        finally:
            try:
                if reason is not None:
                    self._end(reason)
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
                torch.set_num_threads(threads_before)  # a notebook's later work keeps its own setting
                if lock is not None:
                    lock.release()
                distributed.teardown(self.dist, finished=finished)
        return {"run_dir": str(self.run_dir), "steps": self.step, "epochs": self.epoch,
                "seconds": time.perf_counter() - started, "compile_seconds": self.compile_seconds,
                "precision": self.gan.precision.name, "channels_last": self.run.train.channels_last,
                "threads": self.threads.threads if self.threads else None,
                "last": next((r for r in reversed(self.metrics.rows) if "loss_d" in r), None)}

    def _loop(self) -> str:
        t, log_every = self.run.train, self.run.output.log_every
        interval_start, interval_steps = time.perf_counter(), 0
        self._interval = (interval_start, interval_steps)
        while self.epoch < t.epochs and not self._reached_max_steps():
            self._emit("on_epoch_start")
            for batch in self._batches():
                if self.compile_seconds is None and t.compile:
                    self._first_compiled_step(batch)
                    interval_start += self.compile_seconds  # reported apart, as compile_seconds
                    interval_steps -= 1
                else:
                    self.gan.train_step(*batch)
                self.batch_in_epoch += 1
                interval_steps += 1
                row = None
                if self.step % log_every == 0:
                    row = self._row(time.perf_counter() - interval_start, interval_steps)
                    self.metrics.append(row)
                    self.gan.log.reset()
                    self._row_step = self.step
                    interval_start, interval_steps = time.perf_counter(), 0
                interval_start += self._timed_emit("on_step", row)  # a --checkpoint-every save
                self._interval = (interval_start, interval_steps)
                if self.dist.any(self._stop_requested):
                    raise Interrupted(f"interrupted at step {self.step}; checkpoint saved. Continue with: "
                                      f"pygan train --resume {self.run_dir}")
                if self._reached_max_steps():
                    break
            if self.batch_in_epoch == self.batches_per_epoch:
                self.epoch += 1
                self.batch_in_epoch = 0
                # images_per_s counts training: the time grids, plots and checkpoints take is left out
                interval_start += self._timed_emit("on_epoch_end")
                self._interval = (interval_start, interval_steps)
        return MAX_STEPS if self.epoch < t.epochs else DONE

    def _end(self, reason: str) -> None:
        """The run's end, whatever ended it: a last (partial) row of the steps since the last one, then the hooks."""
        if self.step > self._row_step and not self.gan.log.empty():
            start, steps = self._interval
            if reason == NON_FINITE:  # the row that shows the NaN, without stopping again
                means = self.gan.log.read(self.dist)
                row = {"step": self.step, "epoch": self.epoch + 1, **means, "partial": True}
            else:
                row = self._row(time.perf_counter() - start, steps, partial=True)
            self.metrics.append(row)
        self._emit("on_end", reason)

    def _first_compiled_step(self, batch: list[torch.Tensor]) -> None:
        """The first step under --compile traces and compiles G and D: timed and reported."""
        self._message("compiling G and D (torch.compile) ...")
        start = time.perf_counter()
        self.gan.train_step(*batch)
        self.compile_seconds = time.perf_counter() - start
        self._message(f"compiled G and D in {self.compile_seconds:.1f} s (first step)")
        self.metrics.append({"step": self.step, "epoch": self.epoch + 1, "compile_seconds": self.compile_seconds})

    def _choose_threads(self) -> None:
        """--threads, or auto: the cores other processes leave free now; said when it is fewer than all."""
        # Processes of one run on this machine share its free cores (torchrun sets OMP_NUM_THREADS itself).
        share = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1) if self.dist.enabled else 1
        self.threads = threads.choose(self.run.train.threads, share=share)
        threads.apply(self.threads)
        if self.threads.threads < self.threads.cores or self.threads.source == "--threads":
            self._message(f"{self.threads.threads} of {self.threads.cores} cores ({self.threads.reason})")
        if self.device.type == "cpu":
            auto = self.threads.source == "auto" and not self.dist.enabled  # ranks keep their share
            self._contention = threads.ContentionWatch(self.threads.threads, self.threads.cores, adapt=auto)

    def _reached_max_steps(self) -> bool:
        return bool(self.run.train.max_steps) and self.step >= self.run.train.max_steps

    def _message(self, text: str) -> None:
        for hook in self.hooks:
            reporter = getattr(hook, "reporter", None)
            if reporter is not None:
                reporter.message(text)

    def _on_signal(self, signum, frame) -> None:
        """Ctrl-C (or SIGTERM from torchrun or a scheduler): stop at the next step boundary."""
        if self._stop_requested and signum == signal.SIGINT:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._stop_requested = True
        self._message("stopping after this step (Ctrl-C again to abort without saving)")
