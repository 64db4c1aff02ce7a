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
