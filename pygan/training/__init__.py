"""Training: a run resolved from its configuration (RunSpec), its step (GanStep), the loop (Trainer)
with its hooks, checkpoints and run artefacts."""

from pygan.training.config import Config, ConfigError, DataConfig, ModelConfig, OutputConfig, TrainConfig
from pygan.training.errors import Interrupted, NonFiniteLoss, TrainingError
from pygan.training.run_spec import RunSpec, resolve
from pygan.training.step import GanStep
from pygan.training.trainer import Trainer

__all__ = ["Config", "ConfigError", "DataConfig", "GanStep", "Interrupted", "ModelConfig", "NonFiniteLoss",
           "OutputConfig", "RunSpec", "TrainConfig", "Trainer", "TrainingError", "resolve"]
