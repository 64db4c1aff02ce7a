"""Checkpoints that lack a key or hold weights that do not fit: a CheckpointError naming the file."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pygan.errors import PyganError
from pygan.training.checkpoint import CheckpointError
from pygan.training.checkpoint_checks import check_keys, load_weights


def test_check_keys_names_the_file_and_what_is_missing():
    check_keys({"config": {}, "generator": {}}, "run.pt", ("config", "generator"))
    with pytest.raises(CheckpointError, match=r"run\.pt: an incomplete pygan checkpoint: it lacks spec, step"):
        check_keys({"config": {}}, "run.pt", ("config", "spec", "step"))
    assert issubclass(CheckpointError, PyganError)


def test_load_weights_loads_fitting_weights():
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    load_weights(target, source.state_dict(), "generator", "run.pt")
    assert torch.equal(target.weight, source.weight)


def test_load_weights_names_missing_unexpected_and_misshapen_tensors():
    module = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    weights = dict(module.state_dict())
    del weights["0.bias"]
    weights["2.weight"] = torch.zeros(1)
    weights["1.weight"] = torch.zeros(5, 5)
    with pytest.raises(CheckpointError) as error:
        load_weights(module, weights, "discriminator", "ckpt.pt")
    message = str(error.value)
    assert message.startswith("ckpt.pt: the discriminator weights do not fit")
    assert "missing 0.bias" in message and "unexpected 2.weight" in message
    assert "1.weight (5, 5) (the network has (1, 2))" in message


def test_load_weights_counts_what_it_does_not_show():
    module = nn.Sequential(*(nn.Linear(2, 2) for _ in range(4)))
    with pytest.raises(CheckpointError, match=r"missing 0\.weight, 0\.bias, 1\.weight and 5 more"):
        load_weights(module, {}, "generator", "x.pt")
    with pytest.raises(CheckpointError, match="the generator weights are list, not a table"):
        load_weights(module, [], "generator", "x.pt")
    with pytest.raises(CheckpointError, match=r"of the wrong shape: weight \(a str, not a tensor\)"):
        load_weights(nn.Linear(2, 2), {"weight": "zeros", "bias": torch.zeros(2)}, "generator", "x.pt")
