"""pygan: a GAN toolkit for PyTorch with fused C++/CUDA kernels, plugins and a CLI."""

from pygan import _extension  # noqa: F401  (loads the kernels, or warns once and falls back)
from pygan.ops import (
    BatchNormLeakyReLU,
    FusedLeakyReLU,
    batch_norm_leaky_relu,
    discriminator_loss,
    fused_leaky_relu,
    fused_leaky_relu_,
    generator_loss,
)

__version__ = "0.1.0"

__all__ = [
    "BatchNormLeakyReLU",
    "FusedLeakyReLU",
    "__version__",
    "batch_norm_leaky_relu",
    "discriminator_loss",
    "fused_leaky_relu",
    "fused_leaky_relu_",
    "generator_loss",
]
