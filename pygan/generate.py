"""Drawing samples from a generator the way GANs are sampled."""

from __future__ import annotations

import torch


def generate(generator: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z) in training mode (as GANs are sampled) without touching its BatchNorm statistics."""
    buffers = {name: b.clone() for name, b in generator.named_buffers()}
    with torch.no_grad():
        out = generator(z)
        for name, b in generator.named_buffers():
            b.copy_(buffers[name])
    return out
