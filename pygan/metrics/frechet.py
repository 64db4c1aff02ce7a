"""Frechet distance between Gaussian fits of two feature sets (the FID formula) and the kernel
inception distance (KID, unbiased MMD^2 with the cubic polynomial kernel). Which features go in
(Inception's or another network's) is the caller's choice, and reports must name it.

Features stay in their own dtype (float32 from `pygan evaluate`); float64 is used only in blocks
of at most `_BLOCK` elements and for the small matrices the math needs, so memory is bounded by
the features themselves plus O(min(n, d)^2)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

_BLOCK = 1 << 22  # float64 elements per temporary block (32 MB)


def _check(features: torch.Tensor, name: str = "features") -> torch.Tensor:
    if features.dim() != 2 or len(features) < 2:
        raise ValueError(f"{name} must be (N >= 2, D), got {tuple(features.shape)}")
    return features.detach()


def _row_blocks(x: torch.Tensor, width: int | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
    """Row blocks of `x` in float64, each at most `_BLOCK` elements."""
    rows = max(1, _BLOCK // max(1, width or x.shape[1]))
    for i in range(0, len(x), rows):
        yield slice(i, i + rows), x[i:i + rows].double()


def _mean(x: torch.Tensor) -> torch.Tensor:
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    for _, block in _row_blocks(x):
        total += block.sum(0)
    return total / len(x)


def _mean_cov(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = _check(features)
    mu, d = _mean(x), x.shape[1]
    cov = torch.zeros(d, d, dtype=torch.float64)
    for _, block in _row_blocks(x):
        centered = block - mu
        cov += centered.T @ centered
    return mu, cov / (len(x) - 1)


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


def _frechet_in_sample_span(x: torch.Tensor, y: torch.Tensor) -> float:
    """The same number as the d-dimensional formula, computed in the span of the samples.

    With centered A (n1 x d), B (n2 x d): C1 = A^T A / (n1 - 1), C2 = B^T B / (n2 - 1), and the
    nonzero eigenvalues of C1 C2 are those of M M^T / ((n1 - 1)(n2 - 1)), M = A B^T (n1 x n2), so
    tr((C1 C2)^(1/2)) is the sum of their square roots (the nuclear norm of M, scaled). M M^T is
    accumulated over row blocks of B: O(n1 n2 d) time, O(n1^2) memory beyond the features."""
    if len(x) > len(y):
        x, y = y, x  # the n1 x n1 matrix on the smaller side; tr((C1 C2)^(1/2)) is symmetric
    n1, n2, d = len(x), len(y), x.shape[1]
    mu1, mu2 = _mean(x), _mean(y)
    traces = []
    for features, mu in ((x, mu1), (y, mu2)):
        squares = sum(float(((block - mu) ** 2).sum()) for _, block in _row_blocks(features))
        traces.append(squares / (len(features) - 1))
    # Blocks: a column slice of A (n1 x w) against a block of B (r x w), both float64.
    rows = max(1, min(n2, _BLOCK // max(n1, 1), 4096))
    width = max(1, _BLOCK // max(n1, rows))
    gram = torch.zeros(n1, n1, dtype=torch.float64)
    for i in range(0, n2, rows):
        cross = torch.zeros(n1, min(rows, n2 - i), dtype=torch.float64)
        for j in range(0, d, width):
            a = x[:, j:j + width].double() - mu1[j:j + width]
            b = y[i:i + rows, j:j + width].double() - mu2[j:j + width]
            cross += a @ b.T
        gram += cross @ cross.T
    gram /= (n1 - 1) * (n2 - 1)
    trace_sqrt = torch.linalg.eigvalsh((gram + gram.T) / 2).clamp_min(0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + traces[0] + traces[1] - 2 * trace_sqrt)


def frechet_distance(features1: torch.Tensor, features2: torch.Tensor, *, method: str = "auto") -> float:
    """The Frechet distance between Gaussian fits of two (N, D) feature sets.

    method "full" forms the D x D covariances (O(N D^2 + D^3)); "samples" works in the span of the
    samples (O(N1 N2 D), exact too); "auto" takes "samples" when either set has fewer samples than
    D dimensions, where the covariances have rank below D and "full" would spend its time on zeros."""
    x, y = _check(features1, "features1"), _check(features2, "features2")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"features1 and features2 must have the same D, got {x.shape[1]} and {y.shape[1]}")
    if method not in ("auto", "full", "samples"):
        raise ValueError(f"method must be 'auto', 'full' or 'samples', got {method!r}")
    if method == "samples" or (method == "auto" and min(len(x), len(y)) < x.shape[1]):
        return _frechet_in_sample_span(x, y)
    return frechet_distance_from_stats(*_mean_cov(x), *_mean_cov(y))


def _gram(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b.T in float64, converting column blocks of the (float32) features at a time."""
    width = max(1, _BLOCK // max(len(a), len(b), 1))
    out = torch.zeros(len(a), len(b), dtype=torch.float64)
    for j in range(0, a.shape[1], width):
        out += a[:, j:j + width].double() @ b[:, j:j + width].double().T
    return out


_KID_GRAM_LIMIT = 1 << 24  # float64 entries (128 MB) up to which the full kernel matrices are formed once


def kernel_inception_distance(features1: torch.Tensor, features2: torch.Tensor, *, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation over subsets of the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3
    (one subset, standard deviation 0, when `subset_size` covers both sets).

    When the three kernel matrices of all samples fit in `_KID_GRAM_LIMIT` entries they are formed
    once and the subsets index into them (the subsets then cost O(m^2), not O(m^2 d) each)."""
    x, y = features1.detach(), features2.detach()
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each feature set")
    if m == len(x) == len(y):
        subsets = 1  # every subset is all of both sets: one value, no spread to measure
    generator = torch.Generator().manual_seed(seed)
    whole = len(x) ** 2 + len(y) ** 2 + len(x) * len(y) <= _KID_GRAM_LIMIT
    if whole:
        kxx_all, kyy_all, kxy_all = ((_gram(p, q) / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
    values = []
    for _ in range(subsets):
        i = torch.randperm(len(x), generator=generator)[:m]
        j = torch.randperm(len(y), generator=generator)[:m]
        if whole:
            kxx, kyy, kxy = kxx_all[i][:, i], kyy_all[j][:, j], kxy_all[i][:, j]
        else:
            a, b = x[i], y[j]
            kxx, kyy, kxy = ((_gram(p, q) / d + 1) ** 3 for p, q in ((a, a), (b, b), (a, b)))
        off = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
        values.append(float(off - 2 * kxy.mean()))
    t = torch.tensor(values)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0
