"""The logged quantities of the steps between two metrics rows, summed on the training device: the
host reads them once, when a row is written (or a checkpoint needs to know they are finite)."""

from __future__ import annotations

import math

import torch

from pygan.training import distributed

BASE = ("loss_d", "d_real", "d_fake", "loss_g")


class StepLog:
    def __init__(self, device: torch.device, penalties: tuple[str, ...] = ()) -> None:
        self.device = device
        self.keys = BASE + tuple(f"penalty_{name}" for name in penalties)
        self.reset()

    def reset(self) -> None:
        """Starts the next interval."""
        self.sums = torch.zeros(len(self.keys), dtype=torch.float64, device=self.device)
        self.n_d = 0
        self.n_g = 0
        self.n_penalty = dict.fromkeys((k.removeprefix("penalty_") for k in self.keys[len(BASE):]), 0)

    def _add(self, index: int, value: torch.Tensor) -> None:
        self.sums[index] += value.detach().to(torch.float64)

    def add_d(self, loss: torch.Tensor, d_real: torch.Tensor, d_fake: torch.Tensor) -> None:
        self.sums[:3] += torch.stack([loss.detach(), d_real.detach(), d_fake.detach()]).to(torch.float64)
        self.n_d += 1

    def add_g(self, loss: torch.Tensor) -> None:
        self._add(3, loss)
        self.n_g += 1

    def add_penalty(self, name: str, value: torch.Tensor) -> None:
        self._add(self.keys.index(f"penalty_{name}"), value)
        self.n_penalty[name] += 1

    def empty(self) -> bool:
        return self.n_d == 0 and self.n_g == 0

    def read(self, ctx: distributed.DistContext | None = None) -> dict[str, float]:
        """The interval's means (summed over all ranks under torchrun): the one host read."""
        sums = self.sums.clone()
        if ctx is not None and ctx.enabled:
            torch.distributed.all_reduce(sums)
        values = dict(zip(self.keys, sums.tolist(), strict=True))
        world = ctx.world if ctx is not None else 1
        n_d, n_g = max(self.n_d * world, 1), self.n_g * world
        means = {"loss_d": values["loss_d"] / n_d, "loss_g": values["loss_g"] / n_g if n_g else math.nan,
                 "d_real": values["d_real"] / n_d, "d_fake": values["d_fake"] / n_d}
        for name, n in self.n_penalty.items():
            if n:
                means[f"penalty_{name}"] = values[f"penalty_{name}"] / (n * world)
        return means

    def finite(self) -> tuple[bool, bool]:
        """Whether D's and G's losses stayed finite over the interval (a host read)."""
        d, g = torch.isfinite(self.sums[[0, 3]]).tolist()
        return bool(d), bool(g)

    def state_dict(self) -> dict[str, float]:
        return {**dict(zip(self.keys, self.sums.tolist(), strict=True)), "n_d": float(self.n_d),
                "n_g": float(self.n_g), **{f"n_penalty_{k}": float(v) for k, v in self.n_penalty.items()}}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.sums = torch.tensor([float(state.get(k, 0.0)) for k in self.keys], dtype=torch.float64,
                                 device=self.device)
        self.n_d, self.n_g = int(state.get("n_d", 0)), int(state.get("n_g", 0))
        self.n_penalty = {k: int(state.get(f"n_penalty_{k}", 0)) for k in self.n_penalty}
