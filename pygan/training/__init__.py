"""Training: the Trainer loop, its configuration, checkpoints and run artefacts."""

from pygan.training.config import Config, ConfigError, DataConfig, ModelConfig, OutputConfig, TrainConfig
from pygan.training.trainer import Interrupted, NonFiniteLoss, Trainer, TrainingError

__all__ = ["Config", "ConfigError", "DataConfig", "Interrupted", "ModelConfig", "NonFiniteLoss",
           "OutputConfig", "TrainConfig", "Trainer", "TrainingError"]
