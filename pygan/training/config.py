"""The training configuration: typed dataclasses, read from TOML, overridden from the CLI, and
saved (resolved) as config.toml in every run directory."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from pygan.losses import LOSSES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class ConfigError(ValueError):
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
    loss: str = "non-saturating"
    real_label: float = 1.0  # < 1: one-sided label smoothing
    lr: float = 0.0  # 0 = the architecture's default
    beta1: float = -1.0  # < 0 = the architecture's default
    beta2: float = -1.0
    lr_decay: float = -1.0  # share of training, at its end, over which the lr falls linearly to 0; < 0 = arch's
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    ema: float = 0.0  # decay of an exponential moving average of G's weights; 0 = off
    precision: str = "auto"  # auto | fp32 | bf16 | fp16 (see pygan/training/precision.py); saved resolved
    channels_last: bool = True  # channels-last memory format for image models (saved as applied)
    compile: bool = False  # torch.compile G and D
    sync_bn: bool = False  # under torchrun: synchronise BatchNorm statistics across processes (CUDA)
    pack: int = 1  # PacGAN packing: D judges `pack` samples at once (concatenated), against mode collapse
    eval_every: int = 0  # evaluate (pygan evaluate) every N epochs into metrics.jsonl; 0 = never


@dataclass
class OutputConfig:
    out: str = ""  # "" = runs/<arch>-<plugin>-<timestamp>
    samples: int = 64  # images in each sample grid (fixed noise)
    checkpoint_every: int = 0  # also checkpoint every N steps; 0 = at the end of each epoch only
    keep_checkpoints: int = 3  # per-epoch checkpoints kept besides latest.pt
    log_every: int = 10  # steps per metrics.jsonl row


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def validate(self) -> Config:
        t, o = self.train, self.output
        checks = [
            (t.epochs >= 1, f"--epochs must be >= 1, got {t.epochs}"),
            (t.max_steps >= 0, f"--max-steps must be >= 0 (0 = no limit), got {t.max_steps}"),
            (t.batch_size >= 1, f"--batch-size must be >= 1, got {t.batch_size}"),
            (t.d_steps >= 1, f"--d-steps must be >= 1, got {t.d_steps}"),
            (t.loss in LOSSES, f"--loss must be one of {', '.join(LOSSES)}, got {t.loss!r}"),
            (0.0 <= t.real_label <= 1.0, f"--real-label must lie in [0, 1], got {t.real_label}"),
            (t.lr >= 0.0, f"--lr must be > 0 (or 0 for the architecture's default), got {t.lr}"),
            (t.lr_decay < 0 or t.lr_decay <= 1.0,
             f"--lr-decay is a share of training in [0, 1] (e.g. 0.5 = the last half; 0 = constant lr), "
             f"got {t.lr_decay}"),
            (0.0 <= t.ema < 1.0, f"--ema is a decay in [0, 1) (e.g. 0.999; 0 = off), got {t.ema}"),
            (t.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}"),
            (t.pack >= 1, f"--pack must be >= 1 (1 = no packing), got {t.pack}"),
            (t.eval_every >= 0, f"--eval-every must be >= 0 (0 = never), got {t.eval_every}"),
            (t.device == "auto" or t.device == "cpu" or t.device.startswith("cuda"),
             f"--device must be auto, cpu, cuda or cuda:N, got {t.device!r}"),
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
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if value is None:
            continue
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(f"{source}: unknown key '{key}' in [{section}]; keys are {', '.join(fields)}")
        current = getattr(target, name)
        if isinstance(current, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{section}] {name} must be a table")
            value = {**current, **value}
        elif isinstance(current, bool) or not isinstance(current, (int, float, str)):
            pass
        elif isinstance(current, float) and isinstance(value, int):
            value = float(value)
        elif not isinstance(value, type(current)):
            raise ConfigError(f"{source}: [{section}] {name} must be {type(current).__name__}, got {value!r}")
        setattr(target, name, value)


def load(path: str | Path) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(raw, str(path))


def dumps(config: Config) -> str:
    return tomli_w.dumps(config.to_dict())
