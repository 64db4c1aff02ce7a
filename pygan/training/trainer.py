"""The training loop: k discriminator steps per generator step on the fused losses, Adam with the
architecture's defaults, optional EMA of G and AMP on CUDA, seeded and deterministic on CPU, with
atomic checkpoints that resume exactly."""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pygan import plugins
from pygan.losses import get_loss
from pygan.training import artifacts, checkpoint, distributed, optim, precision
from pygan.training.config import Config, ConfigError
from pygan.training.metrics_log import MetricsLog

# Options that may change when a run resumes; anything else would make it a different run.
RESUMABLE_OVERRIDES = {("train", "epochs"), ("train", "max_steps"), ("train", "device"), ("train", "eval_every"),
                       ("train", "compile"),
                       ("output", "checkpoint_every"), ("output", "log_every"), ("output", "keep_checkpoints")}


class TrainingError(RuntimeError):
    """Training cannot start or go on; the message says why and what to do."""


class NonFiniteLoss(TrainingError):
    pass


class Interrupted(TrainingError):
    pass


class Reporter(Protocol):
    def start(self, trainer: Trainer) -> None: ...
    def epoch_start(self, epoch: int, batches: int, done: int) -> None: ...
    def step(self, step: int, row: dict[str, Any] | None) -> None: ...
    def epoch_end(self, epoch: int) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...


class SilentReporter:
    def start(self, trainer): pass
    def epoch_start(self, epoch, batches, done): pass
    def step(self, step, row): pass
    def epoch_end(self, epoch): pass
    def message(self, text): pass
    def stop(self): pass


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA GPU is available here; use --device cpu or auto")
    return device


class _Averages:
    """Running sums of the logged quantities between two metrics rows."""

    KEYS = ("loss_d", "d_real", "d_fake", "loss_g")

    def __init__(self, state: dict[str, float] | None = None) -> None:
        self.sums = dict.fromkeys(self.KEYS, 0.0) | {"n_d": 0.0, "n_g": 0.0}
        if state:
            self.sums.update(state)

    def add_d(self, loss: float, d_real: float, d_fake: float) -> None:
        self.sums["loss_d"] += loss
        self.sums["d_real"] += d_real
        self.sums["d_fake"] += d_fake
        self.sums["n_d"] += 1

    def add_g(self, loss: float) -> None:
        self.sums["loss_g"] += loss
        self.sums["n_g"] += 1

    def reduce(self, ctx: distributed.DistContext) -> None:
        """Sums over all ranks, so that rows report the whole global batch."""
        keys = list(self.sums)
        self.sums = dict(zip(keys, ctx.sum([self.sums[k] for k in keys]), strict=True))

    def means(self) -> dict[str, float]:
        n_d, n_g = max(self.sums["n_d"], 1.0), self.sums["n_g"]
        return {"loss_d": self.sums["loss_d"] / n_d, "loss_g": self.sums["loss_g"] / n_g if n_g else math.nan,
                "d_real": self.sums["d_real"] / n_d, "d_fake": self.sums["d_fake"] / n_d}


class Trainer:
    """Trains one GAN run. Usable from Python:

        config = Config(); config.model.arch = "mlp"; config.data.plugin = "ring8"
        Trainer(config).fit()
    """

    def __init__(self, config: Config, *, reporter: Reporter | None = None, resume_from: str | Path | None = None,
                 overrides: dict[tuple[str, str], Any] | None = None) -> None:
        state = None
        if resume_from is not None:
            state = checkpoint.load(resume_from)
            config = self._resumed_config(state, overrides or {})
        self.config = config.validate()
        self.reporter = reporter or SilentReporter()
        t = config.train
        self.device = resolve_device(t.device)
        self.dist = distributed.setup(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        if t.batch_size % self.dist.world:
            raise ConfigError(f"--batch-size {t.batch_size} is the global batch; it must divide evenly over "
                              f"{self.dist.world} processes")
        # PacGAN's convention: the batch counts D's examples, so with --pack m each step draws m times
        # as many samples and packing never shrinks the batch D learns from.
        self.samples_per_step = t.batch_size * t.pack
        if t.sync_bn and self.device.type != "cuda" and self.dist.enabled:
            raise ConfigError("--sync-bn needs CUDA devices (torch's SyncBatchNorm does not run on the CPU); "
                              "without it each process keeps its own BatchNorm statistics")

        data_plugin = plugins.get_dataset(config.data.plugin)
        self.data_options = plugins.resolve_options(config.data.plugin, data_plugin.options, config.data.options)
        self.spec = data_plugin.spec(self.data_options)
        self.arch = plugins.get_architecture(config.model.arch)
        self.model_options = plugins.resolve_options(config.model.arch, self.arch.options, config.model.options)
        reason = self.arch.accepts(self.spec)
        if reason:
            raise TrainingError(f"--arch {config.model.arch} cannot train on --plugin {config.data.plugin}: {reason}")
        # PacGAN: D sees `pack` samples concatenated along the channel (or feature) axis.
        shape = self.spec.shape
        self.d_spec = plugins.DataSpec((shape[0] * t.pack, *shape[1:]), self.spec.value_range)
        if t.pack > 1 and (reason := self.arch.accepts(self.d_spec)):
            raise TrainingError(f"--pack {t.pack}: --arch {config.model.arch} cannot build a discriminator for "
                                f"packed samples: {reason}")

        torch.manual_seed(t.seed)  # every rank builds the same initial weights
        models = self.arch.build(self.spec, self.model_options)
        if t.pack > 1:
            models.discriminator = self.arch.build(self.d_spec, self.model_options).discriminator
        self.generator = models.generator.to(self.device)
        self.discriminator = models.discriminator.to(self.device)
        # Image models: channels-last activations spare oneDNN/cuDNN layout conversions around
        # every convolution. The config records whether it applied.
        t.channels_last = bool(t.channels_last and self.spec.is_image and _has_convolutions(models))
        self.memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
        self.generator.to(memory_format=self.memory_format)
        self.discriminator.to(memory_format=self.memory_format)
        self.precision = precision.resolve(t.precision, self.device, image_model=self.spec.is_image)
        t.precision = self.precision.name
        torch.manual_seed(t.seed + self.dist.rank)  # any other randomness differs per rank
        self.g_net, self.d_net = self._data_parallel(self.generator), self._data_parallel(self.discriminator)
        self.compile_seconds: float | None = None
        if t.compile:
            self.g_net, self.d_net = torch.compile(self.g_net), torch.compile(self.d_net)
        self.dataset = data_plugin.load(self.data_options)
        if len(self.dataset) < self.samples_per_step:
            raise TrainingError(f"--plugin {config.data.plugin} yields {len(self.dataset)} samples, fewer than one "
                                f"step's {self.samples_per_step} (--batch-size {t.batch_size} x --pack {t.pack}); "
                                "lower the batch size")
        self.batches_per_epoch = len(self.dataset) // self.samples_per_step
        # For 2-D data the sample plots show a faint cloud of real points behind the samples.
        self.real_preview = (torch.stack([self.dataset[i] for i in range(min(len(self.dataset), 2000))])
                             if self.spec.shape == (2,) else None)

        defaults = self.arch.optimizer
        lr = t.lr if t.lr is not None else defaults.lr  # None: the architecture's
        betas = (t.beta1 if t.beta1 is not None else defaults.betas[0],
                 t.beta2 if t.beta2 is not None else defaults.betas[1])
        # The saved config records what ran: resolved plugin options and optimiser settings.
        config.data.options = {k: v for k, v in self.data_options.items() if v is not None}
        config.model.options = {k: v for k, v in self.model_options.items() if v is not None}
        t.lr, t.beta1, t.beta2 = lr, betas[0], betas[1]
        t.lr_decay = t.lr_decay if t.lr_decay is not None else defaults.lr_decay
        self.opt_g = optim.adam(self.generator.parameters(), lr, betas, self.device)
        self.opt_d = optim.adam(self.discriminator.parameters(), lr, betas, self.device)
        self.ema = (AveragedModel(self.generator, multi_avg_fn=get_ema_multi_avg_fn(t.ema), use_buffers=True)
                    if t.ema > 0 else None)
        self.loss = get_loss(t.loss)
        # float16 autocast needs loss scaling, one scaler per optimiser; bfloat16 does not.
        self.scalers = ({id(o): torch.amp.GradScaler("cuda") for o in (self.opt_g, self.opt_d)}
                        if self.precision.needs_grad_scaler else {})

        self.z_rng = torch.Generator().manual_seed(t.seed + 1)
        # Fixed noise for the per-epoch samples: a grid of images, or a cloud of 2-D points.
        n_fixed = config.output.samples if self.spec.is_image else max(config.output.samples, 1000)
        self.fixed_noise = self.arch.sample_latent(n_fixed, self.spec, self.model_options,
                                                   generator=torch.Generator().manual_seed(t.seed + 2))
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.averages = _Averages()
        self._stop_requested = False
        self.run_dir = _run_dir_of(Path(resume_from)) if state else self._new_run_dir()
        if state:
            self._load_state(state)

    # ------------------------------------------------------------ set-up helpers

    @staticmethod
    def _resumed_config(state: dict[str, Any], overrides: dict[tuple[str, str], Any]) -> Config:
        from pygan.training.config import from_dict

        config = from_dict(state["config"], "checkpoint")
        if "lr_decay" not in state["config"].get("train", {}):
            config.train.lr_decay = 0.0  # written before --lr-decay existed: the run had a constant lr
        for (section, key), value in overrides.items():
            if value is None:
                continue
            if (section, key) not in RESUMABLE_OVERRIDES:
                allowed = ", ".join(f"--{k.replace('_', '-')}" for _, k in sorted(RESUMABLE_OVERRIDES))
                raise ConfigError(f"--{key.replace('_', '-')} cannot change when resuming (it would be another run); "
                                  f"only {allowed} can")
            setattr(getattr(config, section), key, value)
        return config

    def _data_parallel(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module wrapped in DistributedDataParallel when there are several processes."""
        if not self.dist.enabled:
            return module
        if self.config.train.sync_bn:
            module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=device_ids)

    def _new_run_dir(self) -> Path:
        out = self.config.output.out
        if not out:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            out = f"runs/{self.config.model.arch}-{self.config.data.plugin}-{stamp}"
        path = Path(out)
        if self.dist.is_main and (path / "checkpoints" / "latest.pt").exists():
            raise TrainingError(f"{path} already holds a run; continue it with --resume {path}, or pick another --out")
        return path

    def _load_state(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.z_rng.set_state(state["z_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.fixed_noise = state["fixed_noise"]
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if self.batch_in_epoch > self.batches_per_epoch:
            raise TrainingError(f"the checkpoint stopped after batch {self.batch_in_epoch} of an epoch, but an epoch "
                                f"here has {self.batches_per_epoch} batches: the data differs from the run's (or "
                                "the checkpoint predates --batch-size counting packs); start a new run")
        self.averages = _Averages(state["averages"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "spec": {"shape": list(self.spec.shape), "value_range": list(self.spec.value_range or [])},
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "z_rng": self.z_rng.get_state(), "torch_rng": torch.get_rng_state(),
            "fixed_noise": self.fixed_noise, "averages": dict(self.averages.sums),
        }

    # ------------------------------------------------------------ the loop

    def _batches(self, epoch: int, skip: int) -> Iterator[torch.Tensor]:
        """The epoch's shuffled batches, from a permutation that depends only on (seed, epoch)."""
        order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(
            self.config.train.seed * 1_000_003 + epoch))
        size = self.samples_per_step  # global: each rank takes its share
        batches = [self.dist.shard(order[i * size:(i + 1) * size]).tolist()
                   for i in range(skip, self.batches_per_epoch)]
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=batches)
        yield from loader

    def _latent(self) -> torch.Tensor:
        """This rank's share of the global batch's z (every rank draws the same global z)."""
        z = self.arch.sample_latent(self.samples_per_step, self.spec, self.model_options, generator=self.z_rng)
        return self.dist.shard(z).to(self.device)

    def _autocast(self):
        return self.precision.autocast(self.device.type)

    def _check_finite(self, loss: torch.Tensor, which: str) -> None:
        if not torch.isfinite(loss).item():
            raise NonFiniteLoss(
                f"the {which} loss became {loss.item()} at step {self.step + 1} (epoch {self.epoch + 1}); "
                f"training stopped and the last good checkpoint is kept in {self.run_dir / 'checkpoints'}. "
                "Try a lower --lr, --real-label 0.9, or --precision fp32")

    def _backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler = self.scalers.get(id(optimizer))
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def train_step(self, real: torch.Tensor) -> None:
        """One discriminator step on `real`, and a generator step every d_steps-th call."""
        t = self.config.train
        real = real.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        self._schedule_lr()
        updates_g = (self.step + 1) % t.d_steps == 0
        with self._autocast(), torch.set_grad_enabled(updates_g):  # G's graph only when G learns
            fake = self.g_net(self._latent())
        with self._autocast():
            d_out = self.loss.discriminator(self.d_net(self._packed(real)), self.d_net(self._packed(fake.detach())),
                                            real_label=t.real_label)
        self._check_finite(d_out.loss, "discriminator")
        self._backward_step(d_out.loss, self.opt_d)
        self.averages.add_d(d_out.loss.item(), d_out.d_real.item(), d_out.d_fake.item())
        self.step += 1
        if updates_g:
            # D just updated; G's graph is kept. D is frozen for this pass: its weight gradients
            # would only be discarded, so its backward computes just the gradient flowing into G
            # (about a third less work), and DDP has nothing of D's to average.
            with self._autocast(), self._no_sync(self.d_net), optim.frozen(self.discriminator):
                g_out = self.loss.generator(self.d_net(self._packed(fake)))
                self._check_finite(g_out.loss, "generator")
                self._backward_step(g_out.loss, self.opt_g)
            self.averages.add_g(g_out.loss.item())
            if self.ema is not None:
                self.ema.update_parameters(self.generator)

    def total_steps(self) -> int:
        """The run's length in discriminator steps as --epochs sets it (--max-steps only cuts a run
        short, so a run cut and resumed follows the same lr schedule as one that never stopped)."""
        return self.config.train.epochs * self.batches_per_epoch

    def _schedule_lr(self) -> None:
        """Constant lr, then (--lr-decay f) a linear fall to 0 over the last share f of the run: the
        late small steps let G settle onto sharp modes instead of orbiting them. A function of the
        step alone, so a resumed run continues the same schedule."""
        t = self.config.train
        total = self.total_steps()
        factor = min(1.0, (total - self.step) / (t.lr_decay * total)) if t.lr_decay > 0 and total else 1.0
        for optimizer in (self.opt_d, self.opt_g):
            for group in optimizer.param_groups:
                group["lr"] = t.lr * max(factor, 0.0)

    def _packed(self, x: torch.Tensor) -> torch.Tensor:
        """Consecutive groups of `pack` samples joined along dim 1: (B, C, ...) -> (B/pack, pack*C, ...)."""
        m = self.config.train.pack
        return x if m == 1 else x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])

    @staticmethod
    def _no_sync(module: torch.nn.Module):
        return module.no_sync() if hasattr(module, "no_sync") else contextlib.nullcontext()

    def fit(self) -> dict[str, Any]:
        """Trains to the configured length (or until interrupted); returns a summary."""
        t, o = self.config.train, self.config.output
        main = self.dist.is_main  # only rank 0 writes the run directory
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.toml").write_text(self._config_text(), encoding="utf-8")
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl" if main else None)
        self.metrics.truncate_after(self.step)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)} \
            if _main_thread() else {}
        self.reporter.start(self)
        started, interval_start, interval_steps = time.perf_counter(), time.perf_counter(), 0
        try:
            while self.epoch < t.epochs and not self._reached_max_steps():
                self.reporter.epoch_start(self.epoch, self.batches_per_epoch, self.batch_in_epoch)
                for real in self._batches(self.epoch, self.batch_in_epoch):
                    if self.compile_seconds is None and t.compile:
                        self._first_compiled_step(real)
                    else:
                        self.train_step(real)
                    self.batch_in_epoch += 1
                    interval_steps += 1
                    row = None
                    if self.step % o.log_every == 0:
                        elapsed = time.perf_counter() - interval_start
                        self.averages.reduce(self.dist)
                        row = {"step": self.step, "epoch": self.epoch + 1, **self.averages.means(),
                               "images_per_s": interval_steps * self.samples_per_step / max(elapsed, 1e-9),
                               "lr": self.opt_g.param_groups[0]["lr"]}
                        self.metrics.append(row)
                        self.averages, interval_start, interval_steps = _Averages(), time.perf_counter(), 0
                    self.reporter.step(self.step, row)
                    if o.checkpoint_every and self.step % o.checkpoint_every == 0:
                        self._save("latest.pt")
                    if self.dist.any(self._stop_requested):
                        self._save("latest.pt")
                        raise Interrupted(f"interrupted at step {self.step}; checkpoint saved. Continue with: "
                                          f"pygan train --resume {self.run_dir}")
                    if self._reached_max_steps():
                        break
                if self.batch_in_epoch == self.batches_per_epoch:
                    self._end_epoch()
            self._save("latest.pt")
        finally:
            self.reporter.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            distributed.teardown(self.dist)
        return {"run_dir": str(self.run_dir), "steps": self.step, "epochs": self.epoch,
                "seconds": time.perf_counter() - started, "compile_seconds": self.compile_seconds,
                "precision": self.precision.name, "channels_last": t.channels_last,
                "last": next((r for r in reversed(self.metrics.rows) if "loss_d" in r), None)}

    def _first_compiled_step(self, real: torch.Tensor) -> None:
        """The first step under --compile traces and compiles G and D: timed and reported."""
        self.reporter.message("compiling G and D (torch.compile) ...")
        start = time.perf_counter()
        self.train_step(real)
        self.compile_seconds = time.perf_counter() - start
        self.reporter.message(f"compiled G and D in {self.compile_seconds:.1f} s (first step)")
        self.metrics.append({"step": self.step, "epoch": self.epoch + 1, "compile_seconds": self.compile_seconds})

    def _reached_max_steps(self) -> bool:
        return bool(self.config.train.max_steps) and self.step >= self.config.train.max_steps

    def _end_epoch(self) -> None:
        self.epoch += 1
        self.batch_in_epoch = 0
        self.reporter.epoch_end(self.epoch)
        if not self.dist.is_main:
            return
        self.save_samples(self.run_dir / "samples" / f"epoch-{self.epoch:04d}.png")
        self._save("latest.pt")
        every = self.config.train.eval_every
        if every and self.epoch % every == 0:
            from pygan.metrics.evaluate import evaluate

            report = evaluate(self.run_dir, features="pixels", data=self.dataset)
            self.metrics.append({"step": self.step, "epoch": self.epoch,
                                 "eval": {k: v for k, v in report.items() if k not in ("run", "step")}})
        if self.metrics.rows:
            artifacts.save_training_plot(self.metrics.rows, self.run_dir / "training.png")
        keep = self.config.output.keep_checkpoints
        if keep:
            self._save(f"epoch-{self.epoch:04d}.pt")
            epochs = sorted((self.run_dir / "checkpoints").glob("epoch-*.pt"))
            for old in epochs[:-keep]:
                old.unlink()

    def _save(self, name: str) -> None:
        if not self.dist.is_main:
            return
        checkpoint.save_atomic(self.state_dict(), self.run_dir / "checkpoints" / name)

    def _config_text(self) -> str:
        from pygan.training.config import dumps

        return dumps(self.config)

    def _on_signal(self, signum, frame) -> None:
        """Ctrl-C (or SIGTERM from torchrun or a scheduler): stop at the next step boundary."""
        if self._stop_requested and signum == signal.SIGINT:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._stop_requested = True
        self.reporter.message("stopping after this step (Ctrl-C again to abort without saving)")

    # ------------------------------------------------------------ samples

    def sample_generator(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.generator

    def save_samples(self, path: Path) -> None:
        samples = generate(self.sample_generator(), self.fixed_noise.to(self.device))
        if self.spec.is_image:
            artifacts.save_image_grid(samples, path, self.spec.value_range or (-1.0, 1.0))
        elif self.spec.shape == (2,):
            artifacts.save_scatter(samples, path, self.real_preview, f"step {self.step}")


def generate(generator: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z) in training mode (as GANs are sampled) without touching its BatchNorm statistics."""
    buffers = {name: b.clone() for name, b in generator.named_buffers()}
    with torch.no_grad():
        out = generator(z)
    with torch.no_grad():
        for name, b in generator.named_buffers():
            b.copy_(buffers[name])
    return out


def _has_convolutions(models: plugins.GanModels) -> bool:
    conv = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    return any(isinstance(m, conv) for net in (models.generator, models.discriminator) for m in net.modules())


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _run_dir_of(resume_from: Path) -> Path:
    """RUN_DIR for `--resume RUN_DIR` or `--resume RUN_DIR/checkpoints/<name>.pt`."""
    return resume_from.parent.parent if resume_from.is_file() else resume_from
