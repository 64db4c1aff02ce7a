"""Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of
balls around its samples reaching their k-th nearest neighbour (k = 3); precision is the share of
generated samples inside the real manifold, recall the share of real samples inside the generated
one. Distances are computed in row blocks, so memory stays O(block x N)."""

from __future__ import annotations

import torch

_BLOCK_ROWS = 1024


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a.double(), b.double())


def _kth_neighbour_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row."""
    radii = []
    for i in range(0, len(x), _BLOCK_ROWS):
        d = _distances(x[i:i + _BLOCK_ROWS], x)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the 1st is the point itself, at 0
    return torch.cat(radii)


def _share_inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    inside = 0
    for i in range(0, len(points), _BLOCK_ROWS):
        d = _distances(points[i:i + _BLOCK_ROWS], centres)
        inside += int((d <= radii).any(dim=1).sum())
    return inside / len(points)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of `fake` against `real`, both (N, D) features, N > k each."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake must be (N, D) with the same D, got {tuple(real.shape)} and "
                         f"{tuple(fake.shape)}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision and recall with k = {k} need more than {k} samples in each set")
    real, fake = real.detach(), fake.detach()
    precision = _share_inside(fake, real, _kth_neighbour_radii(real, k))
    recall = _share_inside(real, fake, _kth_neighbour_radii(fake, k))
    return precision, recall
