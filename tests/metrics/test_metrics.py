"""The quality measures on distributions whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from pygan import plugins
from pygan.metrics.frechet import frechet_distance, frechet_distance_from_stats, kernel_inception_distance
from pygan.metrics.mixture import PROTOCOL_SAMPLES, mode_coverage


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_of_the_true_mixture_cover_every_mode(name):
    mixture = plugins.get_dataset(name)
    samples = mixture.sample(PROTOCOL_SAMPLES, torch.Generator().manual_seed(0))
    result = mode_coverage(samples, mixture.modes(), mixture.std)
    assert result.modes_covered == result.modes_total == len(mixture.modes())
    assert result.high_quality >= 0.97
    assert result.reverse_kl < 0.05


def test_samples_of_one_mode_cover_one_and_far_points_cover_none():
    ring = plugins.get_dataset("ring8")
    modes = ring.modes()
    one = modes[3] + ring.std * torch.randn(PROTOCOL_SAMPLES, 2)
    result = mode_coverage(one, modes, ring.std)
    assert result.modes_covered == 1 and result.high_quality > 0.97
    assert result.reverse_kl == pytest.approx(np.log(8), rel=1e-6)  # all mass on 1 of 8 modes
    far = mode_coverage(torch.full((100, 2), 10.0), modes, ring.std)
    assert far.modes_covered == 0 and far.high_quality == 0.0


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    # For diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 1.0])
    expected = float(((mu1 - mu2) ** 2).sum() + ((a.sqrt() - b.sqrt()) ** 2).sum())
    got = frechet_distance_from_stats(mu1, torch.diag(a), mu2, torch.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_on_random_features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    y = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16)) + 0.5
    mu1, mu2 = x.mean(0), y.mean(0)
    c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(c1 @ c2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean)
    assert frechet_distance(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(torch.from_numpy(x), torch.from_numpy(x)) == pytest.approx(0.0, abs=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    same, _ = kernel_inception_distance(x, y, subsets=20, subset_size=300)
    shifted, _ = kernel_inception_distance(x, y + 1.0, subsets=20, subset_size=300)
    assert abs(same) < 0.02 < shifted


@pytest.mark.parametrize(("n1", "n2", "d"), [(20, 30, 64), (30, 12, 64), (40, 40, 40), (25, 300, 100)])
def test_the_frechet_distance_in_the_span_of_the_samples_equals_the_full_formula(n1, n2, d):
    g = torch.Generator().manual_seed(n1 + n2 + d)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64)
    x = (torch.randn(n1, d, generator=g, dtype=torch.float64) @ mix).float()
    y = (torch.randn(n2, d, generator=g, dtype=torch.float64) @ mix * 0.7 + 0.3).float()
    full = frechet_distance(x, y, method="full")
    assert full > 0
    assert frechet_distance(x, y, method="samples") == pytest.approx(full, rel=1e-6)
    assert frechet_distance(x, y) == pytest.approx(full, rel=1e-6)  # auto
    assert frechet_distance(x, x, method="samples") == pytest.approx(0.0, abs=1e-6 * full)


def test_the_span_formula_holds_across_float64_blocks(monkeypatch):
    # Blocks of a few rows and columns: the accumulation over blocks gives the same number.
    import pygan.metrics.frechet as frechet

    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(9, 50, generator=g), torch.randn(13, 50, generator=g) + 0.1
    whole = frechet_distance(x, y, method="samples")
    monkeypatch.setattr(frechet, "_BLOCK", 40)
    # rel 1e-7: the centered Gram matrix has a zero eigenvalue whose square root is sqrt(rounding)
    assert frechet_distance(x, y, method="samples") == pytest.approx(whole, rel=1e-7)
    assert frechet_distance(x, y, method="full") == pytest.approx(whole, rel=1e-6)


def test_frechet_distance_refuses_mismatched_features_and_methods():
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="method must be"):
        frechet_distance(torch.zeros(3, 4), torch.zeros(3, 4), method="exact")
    with pytest.raises(ValueError, match=r"\(N >= 2, D\)"):
        frechet_distance(torch.zeros(1, 4), torch.zeros(3, 4))


def test_kid_from_the_whole_kernel_matrices_equals_kid_per_subset(monkeypatch):
    import pygan.metrics.frechet as frechet

    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(60, 20, generator=g), torch.randn(50, 20, generator=g) + 0.2
    whole = kernel_inception_distance(x, y, subsets=10, subset_size=30)
    monkeypatch.setattr(frechet, "_KID_GRAM_LIMIT", 0)  # each subset's kernels formed on their own
    per_subset = kernel_inception_distance(x, y, subsets=10, subset_size=30)
    assert whole[0] > 0
    assert whole == pytest.approx(per_subset, rel=1e-9)


def test_kid_on_subsets_covering_both_sets_is_one_value():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(30, 8, generator=g), torch.randn(30, 8, generator=g) + 0.5
    mean, std = kernel_inception_distance(x, y, subsets=100, subset_size=1000)
    assert mean > 0 and std == 0.0
    _, spread = kernel_inception_distance(x, y, subsets=20, subset_size=20)
    assert spread > 0
