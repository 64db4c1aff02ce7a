"""Training on a GPU with AMP (runs only where a GPU is present)."""

from __future__ import annotations

import pytest
import torch

from pygan.training import Config, Trainer

pytestmark = pytest.mark.cuda


def test_dcgan_trains_on_cuda_with_amp(tiny_images, tmp_path):
    config = Config()
    config.data.plugin = "image-folder"
    config.data.options = {"data-dir": str(tiny_images), "image-size": 16}
    config.model.options = {"ngf": 8, "ndf": 8}
    config.train.batch_size, config.train.epochs = 4, 2
    config.train.device, config.train.precision, config.train.ema = "cuda", "auto", 0.9
    config.output.out = str(tmp_path / "run")
    trainer = Trainer(config)
    assert trainer.precision.autocast_dtype in (torch.bfloat16, torch.float16)
    assert trainer.config.train.precision in ("bf16", "fp16") and trainer.config.train.channels_last
    summary = trainer.fit()
    assert summary["steps"] == 4
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())
    assert (tmp_path / "run" / "samples" / "epoch-0002.png").is_file()
