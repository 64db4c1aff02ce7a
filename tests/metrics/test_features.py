"""`pygan evaluate --features FILE`: a TorchScript file, or a one-line EvaluationError."""

from __future__ import annotations

import pytest
import torch

from pygan.errors import PyganError
from pygan.metrics.features import EvaluationError, load_feature_network


def test_a_torchscript_file_loads_in_eval_mode(tmp_path):
    path = tmp_path / "features.pt"
    torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout())).train().save(str(path))
    network = load_feature_network(path)
    assert isinstance(network, torch.jit.ScriptModule) and not network.training
    assert network(torch.ones(2, 1, 2, 2)).shape == (2, 4)


@pytest.mark.parametrize("content", [b"not a model", b"", None])
def test_a_file_that_is_not_torchscript_is_refused_with_the_fix(tmp_path, content):
    path = tmp_path / "features.pt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)  # a plain checkpoint, not TorchScript
    else:
        path.write_bytes(content)
    with pytest.raises(EvaluationError) as error:
        load_feature_network(path)
    message = str(error.value)
    assert message.startswith(f"--features {path}: not a TorchScript file") and "torch.jit.script" in message
    assert "\n" not in message and issubclass(EvaluationError, PyganError)


def test_a_missing_file_or_a_folder_is_refused(tmp_path):
    for path in (tmp_path / "nope.pt", tmp_path):
        with pytest.raises(EvaluationError, match="nor an existing TorchScript file"):
            load_feature_network(path)
