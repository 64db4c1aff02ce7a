"""`resolve(config) -> RunSpec`: a run described completely, every default filled in from the plugins
(optimiser settings, plugin options, the loss's options, the device, the precision and whether
channels-last applies). A RunSpec is frozen and is exactly what config.toml records; the
caller's Config is never changed."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import torch

from pygan import augmentations, plugins
from pygan.plugin_checks import checked_spec
from pygan.plugins import DataSpec
from pygan.regularisers import TARGETS
from pygan.training import precision as precision_choice
from pygan.training.config import Config, ConfigError, from_dict
from pygan.training.errors import TrainingError


@dataclass(frozen=True)
class RegulariserSpec:
    """`--reg NAME[:weight[:every]]`, resolved: the penalty's weight and its lazy interval."""

    name: str
    weight: float
    every: int

    def text(self) -> str:
        return f"{self.name}:{self.weight:g}:{self.every}"


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    max_steps: int
    batch_size: int
    d_steps: int
    loss: str
    loss_options: Mapping[str, Any]
    regularisers: tuple[RegulariserSpec, ...]
    augment: str
    augment_options: Mapping[str, Any]
    lr: float
    beta1: float
    beta2: float
    lr_decay: float
    seed: int
    device: str
    ema: float
    ema_warmup: bool
    precision: str
    channels_last: bool
    compile: bool
    sync_bn: bool
    pack: int
    eval_every: int
    eval_features: str = "auto"
    threads: int = 0  # as asked (0 = auto); the count a run used is in its metrics rows
    class_sampling: str = "frequency"  # labelled data: how G's labels are drawn (frequency or uniform)


@dataclass(frozen=True)
class OutputSettings:
    out: str
    samples: int
    checkpoint_every: int
    keep_checkpoints: int
    log_every: int
    tensorboard: bool = False


@dataclass(frozen=True)
class RunSpec:
    data_plugin: str
    data_options: Mapping[str, Any]
    arch: str
    model_options: Mapping[str, Any]
    train: TrainSettings
    output: OutputSettings
    data_spec: DataSpec          # what one sample looks like (from the dataset plugin)
    precision_reason: str = ""  # why this precision (not saved: it is a remark about this machine)

    @property
    def d_spec(self) -> DataSpec:
        """What D judges: with PacGAN packing, `pack` samples joined along the channel (or feature) axis."""
        return packed_spec(self.data_spec, self.train.pack)

    @property
    def conditional(self) -> bool:
        """Whether G and D take labels: labelled data (only conditional architectures accept it)."""
        return bool(self.data_spec.classes)

    @property
    def samples_per_step(self) -> int:
        """PacGAN's convention: the batch counts D's examples, so a step draws pack x batch samples."""
        return self.train.batch_size * self.train.pack

    def to_dict(self) -> dict[str, Any]:
        """The config.toml layout ([data] [model] [train] [output]); None-valued options are left out."""
        train = {f.name: getattr(self.train, f.name) for f in dataclasses.fields(self.train)}
        train.update(loss_options=_plain(self.train.loss_options), augment_options=_plain(self.train.augment_options),
                     regularisers=[r.text() for r in self.train.regularisers])
        return {"data": {"plugin": self.data_plugin, "options": _plain(self.data_options)},
                "model": {"arch": self.arch, "options": _plain(self.model_options)},
                "train": train, "output": dataclasses.asdict(self.output)}

    def to_config(self) -> Config:
        """A mutable Config holding this run's values (e.g. to change a resumable option and resolve again)."""
        return from_dict(self.to_dict(), "run")


def packed_spec(spec: DataSpec, pack: int) -> DataSpec:
    """`pack` samples of `spec` joined along the channel (or feature) axis, as PacGAN's D sees them."""
    return dataclasses.replace(spec, shape=(spec.shape[0] * pack, *spec.shape[1:]))


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: no CUDA GPU is available here; use --device cpu or auto")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name}: pygan trains on cpu or cuda")
    return device


def parse_regulariser(text: str) -> tuple[str, float | None, int | None]:
    """'r1', 'r1:10' or 'r1:10:16' -> (name, weight or None, every or None)."""
    name, *rest = text.split(":")
    if not name or len(rest) > 2:
        raise ConfigError(f"--reg {text!r}: expected NAME[:weight[:every]], e.g. r1:10:16")
    try:
        weight = float(rest[0]) if rest and rest[0] else None
        every = int(rest[1]) if len(rest) == 2 else None
    except ValueError:
        raise ConfigError(f"--reg {text!r}: the weight must be a number and every a whole number, e.g. r1:10:16") \
            from None
    if weight is not None and not (math.isfinite(weight) and weight >= 0):
        raise ConfigError(f"--reg {text!r}: the weight must be a finite number >= 0")
    if every is not None and every < 1:
        raise ConfigError(f"--reg {text!r}: every must be >= 1 (1 = every step)")
    return name, weight, every


def _regularisers(texts: list[str]) -> tuple[RegulariserSpec, ...]:
    specs = []
    for text in texts:
        name, weight, every = parse_regulariser(text)
        reg = plugins.get_regulariser(name)
        if reg.target not in TARGETS:
            raise plugins.PluginError(f"regulariser '{name}' targets {reg.target!r}; a regulariser targets one of "
                                      f"{', '.join(TARGETS)}")
        specs.append(RegulariserSpec(name, float(reg.default_weight if weight is None else weight),
                                     int(reg.default_every if every is None else every)))
    if len({s.name for s in specs}) != len(specs):
        raise ConfigError(f"--reg names a regulariser twice ({', '.join(texts)}); give each once")
    return tuple(specs)


def _loss_options(config: Config) -> dict[str, Any]:
    t = config.train
    loss = plugins.get_loss(t.loss)
    given = dict(t.loss_options)
    if t.real_label is not None:
        if not any(o.name.replace("-", "_") == "real_label" for o in loss.options):
            raise ConfigError(f"--real-label applies to losses with a real-label option (the BCE losses); "
                              f"--loss {t.loss} has none")
        given["real_label"] = t.real_label
    return plugins.resolve_options(f"loss {t.loss}", loss.options, given)


def _has_convolutions(arch: plugins.Architecture, spec: DataSpec, options: Mapping[str, Any]) -> bool:
    """Whether the architecture's nets convolve, from a build on the meta device (no memory, no RNG)."""
    try:
        with torch.device("meta"):
            models = arch.build(spec, options)
    except Exception:  # a plugin that cannot build on meta: assume an image model convolves
        return True
    conv = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    return any(isinstance(m, conv) for net in (models.generator, models.discriminator) for m in net.modules())


def _ema(name: str, arch: plugins.Architecture, asked: float | None) -> float:
    """--ema, or the architecture's ema_decay, which must be a decay in [0, 1)."""
    if asked is not None:
        return asked
    decay = getattr(arch, "ema_decay", 0.0)
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
        raise plugins.PluginError(f"architecture plugin {name!r} declares ema_decay = {decay!r}; it must be a decay in "
                          "[0, 1) (0 = no moving average): fix the plugin, or give --ema")
    return float(decay)


def resolve(config: Config) -> RunSpec:
    """The complete description of the run `config` asks for; refuses what cannot train, with the reason."""
    config = copy.deepcopy(config).validate()  # the caller's Config stays as it was
    t, o = config.train, config.output
    data_plugin = plugins.get_dataset(config.data.plugin)
    data_options = plugins.resolve_options(config.data.plugin, data_plugin.options, config.data.options)
    spec = checked_spec(config.data.plugin, data_plugin, data_options)
    arch = plugins.get_architecture(config.model.arch)
    model_options = plugins.resolve_options(config.model.arch, arch.options, config.model.options)
    if spec.classes and not getattr(arch, "conditional", False):
        raise TrainingError(f"--plugin {config.data.plugin} is labelled ({spec.num_classes} classes) but --arch "
                            f"{config.model.arch} is not class-conditional and would ignore the labels: train a "
                            "conditional architecture (dcgan, mlp), or drop the labels with --option labels=none")
    if reason := arch.accepts(spec):
        raise TrainingError(f"--arch {config.model.arch} cannot train on --plugin {config.data.plugin}: {reason}")
    packed = packed_spec(spec, t.pack)
    if t.pack > 1 and (reason := arch.accepts(packed)):
        raise TrainingError(f"--pack {t.pack}: --arch {config.model.arch} cannot build a discriminator for packed "
                          f"samples: {reason}")
    augment_options: dict[str, Any] = {}
    augment = t.augment
    if t.augment:
        augment, given = augmentations.expand_shorthand(t.augment, t.augment_options)
        augmentation = plugins.get_augmentation(augment)
        augment_options = plugins.resolve_options(f"augmentation {augment}", augmentation.options, given)
        if reason := augmentation.accepts(spec):
            raise ConfigError(f"--augment {t.augment} cannot augment --plugin {config.data.plugin}: {reason}")
        if reason := augmentation.accepts_loss(t.loss, augment_options):
            raise ConfigError(f"--augment {t.augment} cannot adapt under --loss {t.loss}: {reason}")
        augmentation.initial_strength(augment_options)  # checks the options' values now, not mid-run
    elif t.augment_options:
        raise ConfigError("augment options were given without --augment NAME")
    device = resolve_device(t.device)
    chosen = precision_choice.resolve(t.precision, device, image_model=spec.is_image)
    defaults = arch.optimizer
    out = o.out or f"runs/{config.model.arch}-{config.data.plugin}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    train = TrainSettings(
        epochs=t.epochs, max_steps=t.max_steps, batch_size=t.batch_size, d_steps=t.d_steps, loss=t.loss,
        loss_options=MappingProxyType(_loss_options(config)), regularisers=_regularisers(t.regularisers),
        augment=augment, augment_options=MappingProxyType(augment_options),
        lr=t.lr if t.lr is not None else defaults.lr,
        beta1=t.beta1 if t.beta1 is not None else defaults.betas[0],
        beta2=t.beta2 if t.beta2 is not None else defaults.betas[1],
        lr_decay=t.lr_decay if t.lr_decay is not None else defaults.lr_decay,
        seed=t.seed, device=t.device,
        ema=_ema(config.model.arch, arch, t.ema), ema_warmup=t.ema_warmup, precision=chosen.name,
        # channels-last spares oneDNN/cuDNN layout conversions around convolutions; recorded as applied
        channels_last=bool(t.channels_last and spec.is_image and _has_convolutions(arch, spec, model_options)),
        compile=t.compile, sync_bn=t.sync_bn, pack=t.pack, eval_every=t.eval_every,
        eval_features=t.eval_features, threads=t.threads, class_sampling=t.class_sampling)
    output = OutputSettings(out=out, samples=o.samples, checkpoint_every=o.checkpoint_every,
                            keep_checkpoints=o.keep_checkpoints, log_every=o.log_every,
                            tensorboard=o.tensorboard)
    return RunSpec(config.data.plugin, MappingProxyType(data_options), config.model.arch,
                   MappingProxyType(model_options), train, output, spec, chosen.reason)
