"""The moving average of G: its warm-up, its equality with torch's AveragedModel without warm-up,
old checkpoints that resume without warm-up, and an architecture's ema_decay default."""

from __future__ import annotations

import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pygan import plugins
from pygan.training import checkpoint as ckpt
from pygan.training.checkpoint_migrations import migrate
from pygan.training.ema import GeneratorEMA
from pygan.training.run_spec import _ema
from tests.training.conftest import ring_config


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))


def _steps(net: torch.nn.Module, averages: list, n: int) -> None:
    for i in range(n):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.1 * (i + 1))
        net(torch.randn(5, 3))  # moves BatchNorm's running statistics and batch count
        for a in averages:
            a.update_parameters(net)


def test_without_warmup_it_is_torchs_averaged_model():
    net = _net()
    ours = GeneratorEMA(net, 0.9, warmup=False)
    torch_ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    _steps(net, [ours, torch_ema], 6)
    a, b = ours.state_dict(), torch_ema.state_dict()
    assert a.keys() == b.keys() and all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_warmup_decay_is_min_of_decay_and_1_plus_n_over_10_plus_n():
    net = _net()
    ema = GeneratorEMA(net, 0.995)
    expected = [p.detach().clone() for p in net.parameters()]
    for n in range(8):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(1.0)
        ema.update_parameters(net)
        decay = min(0.995, (1 + n) / (10 + n)) if n else 0.0  # the first update copies; n = updates so far
        expected = [e * decay + p.detach() * (1 - decay) for e, p in zip(expected, net.parameters(), strict=True)]
    got = list(ema.module.parameters())
    assert all(torch.allclose(g, e, atol=1e-5) for g, e in zip(got, expected, strict=True))
    # after 8 updates the warm-up average sits close to the current G, not to the initial one
    initial = _net()
    gap_now = sum((g - p).abs().sum() for g, p in zip(got, net.parameters(), strict=True))
    gap_start = sum((g - p).abs().sum() for g, p in zip(got, initial.parameters(), strict=True))
    assert gap_now < gap_start


def test_a_version_2_checkpoint_resumes_without_warmup(tmp_path):
    from pygan.training import Config, Trainer

    Trainer(ring_config(tmp_path / "run", epochs=2, ema=0.9, max_steps=5)).fit()
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    state = ckpt.load(latest)
    assert state["config"]["train"]["ema_warmup"] is True
    del state["config"]["train"]["ema_warmup"]
    state["version"] = 2
    assert migrate(state)["config"]["train"]["ema_warmup"] is False
    torch.save(state, latest)
    resumed = Trainer(Config(), resume_from=tmp_path / "run")
    assert resumed.run.train.ema_warmup is False and resumed.ema.warmup is False


def test_an_architectures_ema_decay_is_the_default_and_is_checked():
    dcgan = plugins.get_architecture("dcgan")
    assert _ema("dcgan", dcgan, None) == 0.995 and _ema("dcgan", dcgan, 0.0) == 0.0
    assert _ema("mlp", plugins.get_architecture("mlp"), None) == 0.0

    class Broken:
        ema_decay = 1.0

    with pytest.raises(plugins.PluginError, match=r"'broken' declares ema_decay = 1.0.*\[0, 1\)"):
        _ema("broken", Broken(), None)
