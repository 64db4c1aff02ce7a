"""Training learns: the default mlp recipe on ring8 puts its samples on the ring's modes."""

from __future__ import annotations

import pytest
import torch

from pygan import plugins
from pygan.generate import generate
from pygan.training import Config, Trainer


@pytest.mark.slow
def test_mlp_learns_ring8(tmp_path):
    config = Config()
    config.model.arch, config.data.plugin = "mlp", "ring8"
    config.train.max_steps = 6000
    config.output.out = str(tmp_path / "run")
    trainer = Trainer(config)
    trainer.fit()
    z = trainer.arch.sample_latent(2500, trainer.spec, trainer.model_options,
                                   generator=torch.Generator().manual_seed(7))
    samples = generate(trainer.generator, z)
    modes = plugins.get_dataset("ring8").modes()
    distance, nearest = torch.cdist(samples, modes).min(dim=1)
    near = distance < 3 * 0.01  # within 3 standard deviations of a mode
    assert (samples.norm(dim=1) - 1).abs().median() < 0.05  # on the circle
    assert len(set(nearest[near].tolist())) >= 6  # and spread over its modes, not collapsed
    assert near.float().mean() > 0.2
