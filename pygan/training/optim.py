"""Optimisers and gradient scoping for the training step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float],
         device: torch.device) -> torch.optim.Adam:
    """Adam; the fused implementation (one kernel over all parameters) where the device has it."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=device.type in {"cpu", "cuda"})


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Parameters of `module` stop requiring grad for the block: a backward through it then computes
    only the gradients of its inputs, not of its weights."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
