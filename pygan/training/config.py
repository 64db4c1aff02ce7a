"""The training configuration: typed dataclasses, read from TOML, overridden from the CLI, and
saved (resolved) as config.toml in every run directory.

Every value is checked against its field's annotation (bool is not an int, a string is not a bool,
an int is accepted for a float), so a new field is covered without a line of checking code.
`None` means "not set": the architecture's default for the optimiser settings; it is never written
to TOML (which has no null)."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from pygan.errors import PyganError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CLASS_SAMPLING = ("frequency", "uniform")
# The trainer derives further seeds from --seed (seed + 1, seed + 2, seed + rank, seed * 1_000_003 + epoch);
# 32 bits leave all of them far inside the 64 bits torch's generators take.
MAX_SEED = 2**32 - 1
MAX_THREADS = 1024
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class ConfigError(PyganError, ValueError):
    """A configuration value is invalid; the message names it and says how to fix it."""


@dataclass
class DataConfig:
    plugin: str = "faces"
    options: dict[str, Any] = field(default_factory=dict)  # the dataset plugin's own options


@dataclass
class ModelConfig:
    arch: str = "dcgan"
    options: dict[str, Any] = field(default_factory=dict)  # the architecture plugin's own options


@dataclass
class TrainConfig:
    epochs: int = 25
    max_steps: int = 0  # 0 = no limit; otherwise stop after this many discriminator steps in total
    batch_size: int = 64  # discriminator examples per step: with --pack m, m * batch_size samples
    d_steps: int = 1  # discriminator steps (each on a fresh real batch) per generator step
    loss: str = "non-saturating"  # a loss plugin (pygan.losses group)
    loss_options: dict[str, Any] = field(default_factory=dict)  # the loss plugin's own options
    real_label: float | None = None  # shortcut for the BCE losses' real-label option (< 1: label smoothing)
    regularisers: list[str] = field(default_factory=list)  # "NAME[:weight[:every]]" (pygan.regularisers group)
    augment: str = ""  # an augmentation plugin (pygan.augmentations group); "" = none
    augment_options: dict[str, Any] = field(default_factory=dict)  # the augmentation plugin's own options
    lr: float | None = None  # None = the architecture's default
    beta1: float | None = None  # None = the architecture's default
    beta2: float | None = None
    lr_decay: float | None = None  # share of training, at its end, over which the lr falls linearly to 0; None = arch's
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    ema: float | None = None  # decay of an exponential moving average of G's weights; 0 = off; None = arch's
    ema_warmup: bool = True  # the average's decay ramps up over its first updates: min(ema, (1 + n) / (10 + n))
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (see pygan/training/precision.py); saved resolved
    channels_last: bool = True  # channels-last memory format for image models (saved as applied)
    compile: bool = False  # torch.compile G and D
    sync_bn: bool = False  # under torchrun: synchronise BatchNorm statistics across processes (CUDA)
    pack: int = 1  # PacGAN packing: D judges `pack` samples at once (concatenated), against mode collapse
    eval_every: int = 0  # evaluate (pygan evaluate) every N epochs into metrics.jsonl; 0 = never
    eval_features: str = "auto"  # the features of those evaluations, as `pygan evaluate --features`
    threads: int = 0  # CPU threads; 0 = auto: the cores other processes leave free when the run starts
    class_sampling: str = "frequency"  # labelled data: G's labels as frequent as each class in the data, or uniform


@dataclass
class OutputConfig:
    out: str = ""  # "" = runs/<arch>-<plugin>-<timestamp>
    samples: int = 64  # images in each sample grid (fixed noise)
    checkpoint_every: int = 0  # also checkpoint every N steps; 0 = at the end of each epoch only
    keep_checkpoints: int = 3  # per-epoch checkpoints kept besides latest.pt
    log_every: int = 10  # steps per metrics.jsonl row
    tensorboard: bool = False  # also write metrics rows and sample grids as TensorBoard events under the run


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def validate(self) -> Config:
        for section, cls in _SECTIONS.items():
            target = getattr(self, section)
            for name, hint in _hints(cls).items():
                _checked(getattr(target, name), hint, section, name, "config")
        t, o = self.train, self.output
        checks = [
            (t.epochs >= 1, f"--epochs must be >= 1, got {t.epochs}"),
            (t.max_steps >= 0, f"--max-steps must be >= 0 (0 = no limit), got {t.max_steps}"),
            (t.batch_size >= 1, f"--batch-size must be >= 1, got {t.batch_size}"),
            (t.d_steps >= 1, f"--d-steps must be >= 1, got {t.d_steps}"),
            (_known_loss(t.loss), f"--loss must be one of {', '.join(_loss_names())}, got {t.loss!r}"),
            (t.real_label is None or 0.0 <= t.real_label <= 1.0,
             f"--real-label must lie in [0, 1], got {t.real_label}"),
            (t.lr is None or (math.isfinite(t.lr) and t.lr > 0.0),
             f"--lr must be a finite number > 0 (leave it out for the architecture's default), got {t.lr}"),
            (t.beta1 is None or 0.0 <= t.beta1 < 1.0,
             f"beta1 (Adam's first-moment decay) must lie in [0, 1), e.g. 0.5, got {t.beta1}"),
            (t.beta2 is None or 0.0 <= t.beta2 < 1.0,
             f"beta2 (Adam's second-moment decay) must lie in [0, 1), e.g. 0.999, got {t.beta2}"),
            (t.lr_decay is None or 0.0 <= t.lr_decay <= 1.0,
             f"--lr-decay is a share of training in [0, 1] (e.g. 0.5 = the last half; 0 = constant lr), "
             f"got {t.lr_decay}"),
            (0 <= t.seed <= MAX_SEED,
             f"--seed must be an integer in [0, {MAX_SEED}] (2**32 - 1, leaving room for the seeds the trainer "
             f"derives from it), got {t.seed}"),
            (t.ema is None or 0.0 <= t.ema < 1.0, f"--ema is a decay in [0, 1) (e.g. 0.999; 0 = off), got {t.ema}"),
            (t.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}"),
            (t.pack >= 1, f"--pack must be >= 1 (1 = no packing), got {t.pack}"),
            (t.class_sampling in CLASS_SAMPLING,
             f"--class-sampling must be one of {', '.join(CLASS_SAMPLING)}, got {t.class_sampling!r}"),
            (t.eval_every >= 0, f"--eval-every must be >= 0 (0 = never), got {t.eval_every}"),
            (0 <= t.threads <= MAX_THREADS,
             f"--threads must lie in [0, {MAX_THREADS}] (0 = auto: the free cores), got {t.threads}"),
            (_DEVICE.fullmatch(t.device) is not None,
             f"--device must be auto, cpu, cuda or cuda:N (N a GPU index, e.g. cuda:0), got {t.device!r}"),
            (o.samples >= 1, f"samples must be >= 1, got {o.samples}"),
            (o.checkpoint_every >= 0, f"--checkpoint-every must be >= 0, got {o.checkpoint_every}"),
            (o.keep_checkpoints >= 0, f"keep_checkpoints must be >= 0, got {o.keep_checkpoints}"),
            (o.log_every >= 1, f"--log-every must be >= 1, got {o.log_every}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "output": OutputConfig}


_FIRST_PARTY_LOSSES = ("non-saturating", "saturating")


def _loss_names() -> list[str]:
    """The installed loss plugins' names, from packaging metadata alone (no plugin is imported)."""
    from pygan import plugins

    group = getattr(plugins, "LOSSES", None)
    names = sorted(plugins.discover(group)) if group else []
    return names or list(_FIRST_PARTY_LOSSES)  # before the losses were plugins


def _known_loss(name: str) -> bool:
    return name in _loss_names()


# ---------------------------------------------------------------- checking values by their annotation


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _matches(value: Any, hint: Any) -> bool:
    """Whether `value` has the annotated type: bool is no int, a string no bool, an int is a float."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is dict:
        key, item = args
        return isinstance(value, dict) and all(_matches(k, key) and _matches(v, item) for k, v in value.items())
    if origin is list:
        (item,) = args
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    raise TypeError(f"config fields of type {hint!r} are not supported by the checker; add the type to _matches")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):  # None is "left out", which needs no mention
        return " or ".join(_describe(arg) for arg in args if arg is not type(None))
    if origin is dict:
        return "a table"
    if origin is list:
        return f"a list of {_describe(args[0])}"
    return {bool: "bool (true or false)", int: "int (a whole number)", float: "float (a number)",
            str: "str (a quoted string)"}.get(hint, str(hint))


def _wants_float(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


def _checked(value: Any, hint: Any, section: str, key: str, source: str) -> Any:
    """`value` if it has the annotated type (an int for a float comes back as a float); else a ConfigError."""
    if not _matches(value, hint):
        raise ConfigError(f"{source}: [{section}] {key} must be {_describe(hint)}, "
                          f"got {value!r} ({type(value).__name__})")
    if _wants_float(hint) and isinstance(value, int):
        return float(value)
    return value


def from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    config = Config()
    for section, values in raw.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}]; sections are {', '.join(_SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        apply_overrides(config, section, values, source)
    return config


def apply_overrides(config: Config, section: str, values: dict[str, Any], source: str = "command line") -> None:
    """Sets config.<section>.<key> = value for each given (non-None) value, checking names and types."""
    target = getattr(config, section)
    hints = _hints(type(target))
    for key, value in values.items():
        if value is None:
            continue
        name = key.replace("-", "_")
        if name not in hints:
            raise ConfigError(f"{source}: unknown key '{key}' in [{section}]; keys are {', '.join(hints)}")
        value = _checked(value, hints[name], section, name, source)
        current = getattr(target, name)
        if isinstance(current, dict):
            value = {**current, **value}  # plugin options given in two places add up
        setattr(target, name, value)


def load(path: str | Path) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8, save it as such") \
            from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(raw, str(path))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def dumps(config: Config) -> str:
    """The config as TOML; values left unset (None) are left out, as TOML has no null."""
    return tomli_w.dumps(_without_none(config.to_dict()))
