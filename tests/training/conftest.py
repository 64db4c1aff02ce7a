from __future__ import annotations

from pygan.training import Config


def ring_config(out, **train) -> Config:
    """mlp on 256 ring8 points, batch 32: 8 steps an epoch, fast."""
    config = Config()
    config.data.plugin = "ring8"
    config.data.options = {"size": 256}
    config.model.arch = "mlp"
    config.model.options = {"hidden": 32, "layers": 2}
    config.train.batch_size = 32
    config.output.out = str(out)
    config.output.log_every = 1
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


def image_config(images, out, **train) -> Config:
    """A tiny dcgan (ngf = ndf = 4) on a folder of 16 px images, batch 4, one epoch."""
    config = Config()
    config.data.plugin = "image-folder"
    config.data.options = {"data-dir": str(images), "image-size": 16}
    config.model.options = {"ngf": 4, "ndf": 4}
    config.train.batch_size, config.train.epochs = 4, 1
    config.output.out = str(out)
    config.output.log_every = 1
    for key, value in train.items():
        setattr(config.train, key, value)
    return config
