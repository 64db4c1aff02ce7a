"""Frechet distance between Gaussian fits of two feature sets (the FID formula) and the kernel
inception distance (KID, unbiased MMD^2 with the cubic polynomial kernel). Which features go in
(Inception's or another network's) is the caller's choice, and reports must name it."""

from __future__ import annotations

import torch


def _mean_cov(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = features.detach().double()
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"features must be (N >= 2, D), got {tuple(x.shape)}")
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((m + m.T) / 2)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance_from_stats(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor
                                ) -> float:
    """|mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)).

    tr((C1 C2)^(1/2)) = tr((S C2 S)^(1/2)) with S = C1^(1/2): a symmetric PSD square root, so the
    eigenvalues are real and no complex sqrtm is needed."""
    s = _sqrt_psd(cov1.double())
    middle = s @ cov2.double() @ s
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    diff = mu1.double() - mu2.double()
    return float(diff @ diff + torch.trace(cov1.double()) + torch.trace(cov2.double()) - 2 * trace_sqrt)


def frechet_distance(features1: torch.Tensor, features2: torch.Tensor) -> float:
    return frechet_distance_from_stats(*_mean_cov(features1), *_mean_cov(features2))


def kernel_inception_distance(features1: torch.Tensor, features2: torch.Tensor, *, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation over subsets of the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3."""
    x, y = features1.detach().double(), features2.detach().double()
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each feature set")
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        a = x[torch.randperm(len(x), generator=generator)[:m]]
        b = y[torch.randperm(len(y), generator=generator)[:m]]
        kxx, kyy, kxy = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        off = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
        values.append(float(off - 2 * kxy.mean()))
    t = torch.tensor(values)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0
