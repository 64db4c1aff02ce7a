"""Every change of the checkpoint format, in one place: a checkpoint of any earlier version is
brought up to the current one as it is read, so runs written by any pygan still resume and sample.

Version 1 (pygan before loss, regulariser and augmentation plugins): `[train] real_label` became
the BCE losses' `real_label` option; runs had no regularisers, augmentation or their random
streams; a config written before --lr-decay existed trained with a constant lr.
Version 2 (before the EMA warm-up): the moving average of G used its decay from the first update.
Version 3 (before labels): every run was unconditional; no stream of G's labels, no classes in the spec.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from pygan.training import seeds

CURRENT = 4


def _from_1(state: dict[str, Any]) -> dict[str, Any]:
    train = state["config"].setdefault("train", {})
    train.setdefault("lr_decay", 0.0)  # written before --lr-decay existed: the run had a constant lr
    train.setdefault("loss_options", {"real_label": train.pop("real_label", 1.0)})
    train.pop("real_label", None)
    train.setdefault("regularisers", [])
    train.setdefault("augment", "")
    train.setdefault("augment_options", {})
    seed = int(train.get("seed", 0))
    state.setdefault("augment_rng", torch.Generator().manual_seed(seed + seeds.AUGMENT).get_state())
    state.setdefault("penalty_rng", torch.Generator().manual_seed(seed + seeds.PENALTY).get_state())
    state.setdefault("augment_strength", torch.tensor(0.0))
    return state


def _from_2(state: dict[str, Any]) -> dict[str, Any]:
    # Such a run averaged with its decay from the first update; it resumes with the same arithmetic.
    state["config"].setdefault("train", {}).setdefault("ema_warmup", False)
    return state


def _from_3(state: dict[str, Any]) -> dict[str, Any]:
    seed = int(state["config"].get("train", {}).get("seed", 0))
    state.setdefault("label_rng", torch.Generator().manual_seed(seed + seeds.LABELS).get_state())
    state["spec"] = {**state.get("spec", {}), "classes": []}
    return state


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_1, 2: _from_2, 3: _from_3}


def migrate(state: dict[str, Any]) -> dict[str, Any]:
    """`state` brought to version CURRENT (a copy; the caller's dict is not changed)."""
    version = state.get("version")
    if version == CURRENT:
        return state
    state = copy.copy(state)
    state["config"] = copy.deepcopy(state.get("config", {}))
    while version in MIGRATIONS:
        state = MIGRATIONS[version](state)
        version += 1
    state["version"] = version
    return state
