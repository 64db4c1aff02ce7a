"""`GanStep`: one training step of a run, and everything it needs: G and D from the architecture
plugin, their optimisers, the loss, regularisers and augmentation plugins, precision and grad
scalers, PacGAN packing, D frozen while G learns, the EMA of G and the lr schedule.

The trainer, `pygan bench train` and notebooks all drive this one object:

    step = GanStep(resolve(config))
    step.train_step(real_batch)      # a D step, and a G step every d_steps-th call
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from pygan import plugins
from pygan.plugin_checks import check_outputs, checked_build
from pygan.plugins import PluginError
from pygan.regularisers import PenaltyInputs
from pygan.training import distributed, optim, precision, seeds
from pygan.training.ema import GeneratorEMA
from pygan.training.run_spec import RunSpec, resolve_device
from pygan.training.step_log import StepLog


class GanStep:
    def __init__(self, run: RunSpec, *, dist: distributed.DistContext | None = None,
                 device: torch.device | None = None) -> None:
        t = run.train
        self.run = run
        self.dist = dist or distributed.DistContext()
        self.device = device or resolve_device(t.device)
        self.arch = plugins.get_architecture(run.arch)
        torch.manual_seed(t.seed)  # every rank builds the same initial weights
        models = checked_build(run.arch, self.arch, run.data_spec, run.model_options)
        if t.pack > 1:
            models.discriminator = checked_build(run.arch, self.arch, run.d_spec, run.model_options).discriminator
        self.memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
        self.generator = models.generator.to(self.device).to(memory_format=self.memory_format)
        self.discriminator = models.discriminator.to(self.device).to(memory_format=self.memory_format)
        self.precision = precision.resolve(t.precision, self.device, image_model=run.data_spec.is_image)
        torch.manual_seed(t.seed + self.dist.rank)  # any other randomness differs per rank
        self.g_net, self.d_net = self._data_parallel(self.generator), self._data_parallel(self.discriminator)
        if t.compile:
            self.g_net, self.d_net = torch.compile(self.g_net), torch.compile(self.d_net)
        betas = (t.beta1, t.beta2)
        self.opt_g = optim.adam(self.generator.parameters(), t.lr, betas, self.device)
        self.opt_d = optim.adam(self.discriminator.parameters(), t.lr, betas, self.device)
        self.ema = GeneratorEMA(self.generator, t.ema, warmup=t.ema_warmup) if t.ema > 0 else None
        self.loss = plugins.get_loss(t.loss)
        self.regularisers = [(r, plugins.get_regulariser(r.name)) for r in t.regularisers]
        self.augmentation = plugins.get_augmentation(t.augment) if t.augment else None
        self.augment_strength = torch.tensor(
            float(self.augmentation.initial_strength(t.augment_options)) if self.augmentation else 0.0,
            device=self.device)
        # float16 autocast needs loss scaling, one scaler per optimiser; bfloat16 does not.
        self.scalers = ({id(o): torch.amp.GradScaler("cuda") for o in (self.opt_g, self.opt_d)}
                        if self.precision.needs_grad_scaler else {})
        self.z_rng = torch.Generator().manual_seed(t.seed + seeds.Z)
        self.augment_rng = torch.Generator().manual_seed(t.seed + seeds.AUGMENT)
        self.penalty_rng = torch.Generator().manual_seed(t.seed + seeds.PENALTY)
        self.label_rng = torch.Generator().manual_seed(t.seed + seeds.LABELS)
        self.conditional = run.conditional
        # How often G is asked for each class: uniform until the trainer gives the data's frequencies.
        self.class_weights = torch.ones(run.data_spec.num_classes) if self.conditional else None
        self.step = 0  # discriminator steps done
        self.total_steps = 0  # the run's length for the lr schedule; 0 = constant lr
        self.log = StepLog(self.device, tuple(r.name for r, _ in self.regularisers))
        self._outputs_checked = False

    def _data_parallel(self, module: torch.nn.Module) -> torch.nn.Module:
        """The module wrapped in DistributedDataParallel when there are several processes."""
        if not self.dist.enabled:
            return module
        if self.run.train.sync_bn:
            module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=device_ids)

    # ------------------------------------------------------------ pieces of the step

    def latent(self) -> torch.Tensor:
        """This rank's share of the global batch's z (every rank draws the same global z)."""
        z = self.arch.sample_latent(self.run.samples_per_step, self.run.data_spec, self.run.model_options,
                                    generator=self.z_rng)
        return self.dist.shard(z).to(self.device)

    def use_class_frequencies(self, labels: torch.Tensor) -> None:
        """--class-sampling frequency: G is asked for each class as often as the data holds it."""
        if self.conditional and self.run.train.class_sampling == "frequency":
            self.class_weights = torch.bincount(labels.cpu(), minlength=self.run.data_spec.num_classes).double()

    def fake_labels(self) -> torch.Tensor | None:
        """This rank's share of the global batch's labels for G (None on unlabelled data)."""
        if not self.conditional:
            return None
        y = torch.multinomial(self.class_weights, self.run.samples_per_step, replacement=True,
                              generator=self.label_rng)
        return self.dist.shard(y).to(self.device)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.g_net(z) if labels is None else self.g_net(z, labels)

    def judge(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's scores of a batch as D sees it (packed), under the batch's labels in a conditional run."""
        if not self.conditional:
            return self.d_net(x)
        if labels is None:
            raise PluginError("this run is class-conditional: D needs the labels of what it judges (a regulariser "
                              "calls inputs.discriminator(x, labels=inputs.real_labels or inputs.fake_labels))")
        return self.d_net(x, labels)

    def packed_labels(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """Labels as D takes them: (B,), or (B/pack, pack) with packing, each row a pack's labels in order."""
        m = self.run.train.pack
        return labels if labels is None or m == 1 else labels.reshape(labels.shape[0] // m, m)

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """Consecutive groups of `pack` samples joined along dim 1: (B, C, ...) -> (B/pack, pack*C, ...)."""
        m = self.run.train.pack
        return x if m == 1 else x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """A batch as D sees it: augmented (each sample on its own), then packed."""
        if self.augmentation is not None:
            x = self.augmentation.apply(x, self.augment_strength, self.augment_rng, self.run.train.augment_options)
        return self.packed(x)

    def _autocast(self):
        return self.precision.autocast(self.device.type)

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

    def _penalties(self, target: str, real: torch.Tensor, fake: torch.Tensor, real_labels: torch.Tensor | None,
                   fake_labels: torch.Tensor | None) -> torch.Tensor | None:
        """The weighted penalties on `target` due at this step (lazy ones every k-th step, scaled by k)."""
        total = None
        for spec, reg in self.regularisers:
            if reg.target != target or self.step % spec.every:
                continue
            inputs = PenaltyInputs(self.judge, real.detach(), fake, self.penalty_rng, real_labels, fake_labels)
            value = reg.penalty(inputs)
            self.log.add_penalty(spec.name, value)
            weighted = value * (spec.weight * spec.every)
            total = weighted if total is None else total + weighted
        return total

    def schedule_lr(self) -> None:
        """Constant lr, then (--lr-decay f) a linear fall to 0 over the last share f of the run: the
        late small steps let G settle onto sharp modes instead of orbiting them. A function of the
        step alone, so a resumed run continues the same schedule."""
        t, total = self.run.train, self.total_steps
        factor = min(1.0, (total - self.step) / (t.lr_decay * total)) if t.lr_decay > 0 and total else 1.0
        for optimizer in (self.opt_d, self.opt_g):
            for group in optimizer.param_groups:
                group["lr"] = t.lr * max(factor, 0.0)

    def d_step(self, real: torch.Tensor, fake: torch.Tensor, real_labels: torch.Tensor | None = None,
               fake_labels: torch.Tensor | None = None) -> None:
        """One update of D on a real batch and a (detached) generated one (with their labels if conditional)."""
        opts = self.run.train.loss_options
        real_y, fake_y = self.packed_labels(real_labels), self.packed_labels(fake_labels)
        with self._autocast():
            real_in, fake_in = self.d_input(real), self.d_input(fake)
            real_scores, fake_scores = self.judge(real_in, real_y), self.judge(fake_in, fake_y)
            if not self._outputs_checked:  # the contract, on the first batch: shapes only, no host read
                check_outputs(self.run.arch, fake, real_scores, self.run.data_spec, fake.shape[0],
                              d_spec=self.run.d_spec)
                self._outputs_checked = True
            out = self.loss.discriminator(real_scores, fake_scores, opts)
            penalty = self._penalties("discriminator", real_in, fake_in, real_y, fake_y)
            objective = out.loss if penalty is None else out.loss + penalty
        self._backward_step(objective, self.opt_d)
        self.log.add_d(out.loss, out.d_real, out.d_fake)
        if self.augmentation is not None:
            # every rank adjusts from the whole global batch's scores, so all keep the same strength
            scores = self.dist.gather(real_scores.detach())
            self.augment_strength = self.augmentation.adjust(self.augment_strength, scores,
                                                             self.run.train.augment_options)

    def g_step(self, fake: torch.Tensor, real: torch.Tensor, fake_labels: torch.Tensor | None = None,
               real_labels: torch.Tensor | None = None) -> None:
        """One update of G through the (just updated) D. D is frozen for this pass: its weight
        gradients would only be discarded, so its backward computes just the gradient flowing into G
        (about a third less work), and DDP has nothing of D's to average."""
        opts = self.run.train.loss_options
        real_y, fake_y = self.packed_labels(real_labels), self.packed_labels(fake_labels)
        with self._autocast(), self._no_sync(self.d_net), optim.frozen(self.discriminator):
            fake_in = self.d_input(fake)
            real_scores = self.judge(self.d_input(real), real_y) if self.loss.generator_needs_real else None
            out = self.loss.generator(self.judge(fake_in, fake_y), real_scores, opts)
            penalty = (self._penalties("generator", self.packed(real), fake_in, real_y, fake_y)
                       if any(reg.target == "generator" for _, reg in self.regularisers) else None)
            self._backward_step(out.loss if penalty is None else out.loss + penalty, self.opt_g)
        self.log.add_g(out.loss)
        if self.ema is not None:
            self.ema.update_parameters(self.generator)

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """One discriminator step on `real` (with its labels on labelled data), and a generator step
        every d_steps-th call."""
        if self.conditional != (labels is not None):
            raise PluginError("this run is class-conditional: train_step needs the real batch's labels"
                              if self.conditional else "this run is unconditional: train_step takes no labels")
        real = real.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        if labels is not None:
            labels = labels.to(self.device, non_blocking=True)
        self.schedule_lr()
        updates_g = (self.step + 1) % self.run.train.d_steps == 0
        fake_labels = self.fake_labels()
        with self._autocast(), torch.set_grad_enabled(updates_g):  # G's graph only when G learns
            fake = self.generate(self.latent(), fake_labels)
        self.d_step(real, fake.detach(), labels, fake_labels)
        self.step += 1
        if updates_g:
            self.g_step(fake, real, fake_labels, labels)

    @staticmethod
    def _no_sync(module: torch.nn.Module):
        return module.no_sync() if hasattr(module, "no_sync") else contextlib.nullcontext()

    # ------------------------------------------------------------ state

    def sample_generator(self) -> torch.nn.Module:
        """The generator to draw samples from: the EMA of G's weights when the run keeps one."""
        return self.ema.module if self.ema is not None else self.generator

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step, "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(), "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(), "ema": self.ema.state_dict() if self.ema is not None else {},
            "z_rng": self.z_rng.get_state(), "torch_rng": torch.get_rng_state(),
            "augment_rng": self.augment_rng.get_state(), "penalty_rng": self.penalty_rng.get_state(),
            "label_rng": self.label_rng.get_state(),
            "augment_strength": self.augment_strength.detach().cpu(), "averages": self.log.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], load_weights=None) -> None:
        """Restores a checkpoint's step state; `load_weights(module, weights, what)` loads a network
        (default: module.load_state_dict), so callers can turn mismatches into clear errors."""
        load = load_weights or (lambda module, weights, what: module.load_state_dict(weights))
        load(self.generator, state["generator"], "generator")
        load(self.discriminator, state["discriminator"], "discriminator")
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.ema is not None:
            load(self.ema, state["ema"], "EMA of the generator")
        self.z_rng.set_state(state["z_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.augment_rng.set_state(state["augment_rng"])
        self.penalty_rng.set_state(state["penalty_rng"])
        self.label_rng.set_state(state["label_rng"])
        self.augment_strength = state["augment_strength"].to(self.device, torch.float32)
        self.step = state["step"]
        self.log.load_state_dict(state["averages"])
