"""Drawing samples from a generator the way GANs are sampled."""

from __future__ import annotations

import torch


def generate(generator: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """G(z) (G(z, labels) for a class-conditional G) in training mode (as GANs are sampled) without
    touching its BatchNorm statistics."""
    buffers = {name: b.clone() for name, b in generator.named_buffers()}
    with torch.no_grad():
        out = generator(z) if labels is None else generator(z, labels.to(z.device))
        for name, b in generator.named_buffers():
            b.copy_(buffers[name])
    return out


def classes_in_turn(n: int, num_classes: int) -> torch.Tensor | None:
    """n labels cycling through the classes (0, 1, ..., K-1, 0, ...), so every class is drawn
    equally often; None for unlabelled data (K = 0)."""
    return torch.arange(n) % num_classes if num_classes else None
