"""An exponential moving average of G's weights (`--ema DECAY`) that never reads a value back to the
host: torch's AveragedModel checks its update count, a tensor, on every update (a device sync per
step on a GPU). Same arithmetic and the same state_dict as AveragedModel with
get_ema_multi_avg_fn(decay) and use_buffers=True, so checkpoints of either load into the other.

With warm-up (the default) the decay of the n-th update is min(decay, (1 + n) / (10 + n)), as
TensorFlow's ExponentialMovingAverage with num_updates does: without it, a decay of 0.995 keeps
about 73% of the initial G after 62 updates, so early sample grids would show near-initial weights."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel


class GeneratorEMA(AveragedModel):
    def __init__(self, generator: torch.nn.Module, decay: float, warmup: bool = True) -> None:
        super().__init__(generator, use_buffers=True)
        self.decay = decay
        self.warmup = warmup
        self._updates = 0  # the host's copy of n_averaged

    @torch.no_grad()
    def update_parameters(self, model: torch.nn.Module) -> None:
        averaged = list(itertools.chain(self.module.parameters(), self.module.buffers()))
        current = [t.detach().to(a.device) for a, t in
                   zip(averaged, itertools.chain(model.parameters(), model.buffers()), strict=True)]
        if self._updates == 0:
            for a, c in zip(averaged, current, strict=True):
                a.detach().copy_(c)
        else:
            n = self._updates
            decay = min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay
            groups: dict[torch.dtype, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
            for a, c in zip(averaged, current, strict=True):
                mine, theirs = groups.setdefault(a.dtype, ([], []))
                mine.append(a.detach())
                theirs.append(c)
            for mine, theirs in groups.values():
                if mine[0].is_floating_point() or mine[0].is_complex():
                    torch._foreach_lerp_(mine, theirs, 1 - decay)
                else:  # integer buffers (BatchNorm's batch count), as AveragedModel's EMA treats them
                    for a, c in zip(mine, theirs, strict=True):
                        a.copy_(a * decay + c * (1 - decay))
        self.n_averaged += 1
        self._updates += 1

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._updates = int(self.n_averaged)  # one read, at load time
        return result
