"""Building blocks of class-conditional nets, for first- and third-party architectures alike.

- `ConditionalBatchNormLeakyReLU`: BatchNorm whose scale and shift are chosen by each sample's
  class (de Vries et al. 2017; SNGAN's and BigGAN's G), then LeakyReLU (ReLU at slope 0). The
  normalisation is pygan's fused BatchNorm op (batch statistics, running statistics, one pass);
  the per-class scale, shift and activation follow in one addcmul and one activation.
- `ProjectionHead`: the class term of the projection discriminator (Miyato & Koyama 2018),
  <embed(y), h> added to D's logit, h being D's last features. With PacGAN packing, labels come
  as (N, pack) and the packed samples' embeddings are summed.
- `ClassBias`: a learned vector per class added to a layer's pre-activations: the same as joining
  the one-hot label to that layer's input (cGAN's D, Mirza & Osindero 2014) without widening it.
  Packed labels' vectors are summed too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pygan.ops import BatchNormLeakyReLU


class ConditionalBatchNormLeakyReLU(nn.Module):
    """leaky_relu(gamma[y] * (x - mean) / sqrt(var + eps) + beta[y]) per channel (dim 1)."""

    def __init__(self, num_features: int, num_classes: int, negative_slope: float = 0.0, eps: float = 1e-5,
                 momentum: float | None = 0.1) -> None:
        super().__init__()
        # Slope 1 makes the fused op's activation the identity: it normalises, nothing more.
        self.norm = BatchNormLeakyReLU(num_features, negative_slope=1.0, eps=eps, momentum=momentum, affine=False)
        self.scale = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)
        self.negative_slope = float(negative_slope)
        nn.init.normal_(self.scale.weight, 1.0, 0.02)  # DCGAN's BatchNorm initialisation, per class
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        view = (x.shape[0], x.shape[1], *([1] * (x.dim() - 2)))
        normed = self.norm(x)
        scale, shift = self.scale(labels).view(view).to(normed.dtype), self.shift(labels).view(view).to(normed.dtype)
        return F.leaky_relu(torch.addcmul(shift, normed, scale), self.negative_slope)


class ProjectionHead(nn.Module):
    """<embed(y), h> per sample: the projection discriminator's class term for features h (N, ...)."""

    def __init__(self, num_classes: int, features: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        e = self.embed(labels)
        if labels.dim() == 2:  # packed: the pack's labels, one embedding each
            e = e.sum(1)
        return (e.to(h.dtype) * h.flatten(1)).sum(1)


class ClassBias(nn.Module):
    """bias[y] (N, features): one learned vector per class, for a layer's pre-activations."""

    def __init__(self, num_classes: int, features: int, std: float = 0.02) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, features)
        nn.init.normal_(self.embed.weight, 0.0, std)

    def forward(self, labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        e = self.embed(labels)
        return (e.sum(1) if labels.dim() == 2 else e).to(dtype)


def one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """(N,) labels as (N, K) one-hot rows; (N, pack) labels as (N, pack * K)."""
    return F.one_hot(labels, num_classes).to(dtype).flatten(1)
