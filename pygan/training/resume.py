"""What a resumed run keeps from its checkpoint and what it may change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pygan.training.config import Config, ConfigError, from_dict

# Options that may change when a run resumes; anything else would make it a different run.
RESUMABLE_OVERRIDES = {("train", "epochs"), ("train", "max_steps"), ("train", "device"), ("train", "eval_every"),
                       ("train", "eval_features"), ("train", "compile"), ("train", "threads"),
                       ("output", "checkpoint_every"), ("output", "log_every"), ("output", "tensorboard")}
# The command-line flag of each config key whose flag is not simply --key-with-dashes.
CLI_FLAGS = {("train", "regularisers"): "--reg", ("train", "loss_options"): "--loss-option",
             ("train", "augment_options"): "--augment-option"}
# Config keys no `pygan train` flag sets (TOML only): errors name them as the config file does.
TOML_ONLY = {("train", "ema_warmup"), ("output", "samples"),
             ("output", "keep_checkpoints")}
CHECKPOINT_KEYS = ("config", "spec", "step", "epoch", "batch_in_epoch", "generator", "discriminator", "opt_g",
                   "opt_d", "z_rng", "torch_rng", "fixed_noise", "averages")


def resumed_config(state: dict[str, Any], overrides: dict[tuple[str, str], Any], path: Path) -> Config:
    """The checkpoint's run, with the options a resume may change set to `overrides` (None = unchanged)."""
    config = from_dict(state["config"], f"{path} (its config)")
    for (section, key), value in overrides.items():
        if value is None:
            continue
        if (section, key) not in RESUMABLE_OVERRIDES:
            allowed = ", ".join(flag(*k) for k in sorted(RESUMABLE_OVERRIDES))
            raise ConfigError(f"{flag(section, key)} cannot change when resuming (it would be another run); "
                              f"only {allowed} can")
        setattr(getattr(config, section), key, value)
    return config


def flag(section: str, key: str) -> str:
    """How the user sets config key `section.key`: its `pygan train` flag, or `[section] key` in TOML."""
    if (section, key) in TOML_ONLY:
        return f"[{section}] {key}"
    return CLI_FLAGS.get((section, key), f"--{key.replace('_', '-')}")
