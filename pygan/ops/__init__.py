"""pygan's fused ops: the public Python face of the pygan._C kernels."""

from pygan import _extension
from pygan.ops.batch_norm_leaky_relu import BatchNormLeakyReLU, batch_norm_leaky_relu
from pygan.ops.conv import Conv2d, ConvTranspose2d
from pygan.ops.conv2d_weight_grad import conv2d_weight_grad
from pygan.ops.diff_augment import diff_augment
from pygan.ops.gan_loss import discriminator_loss, generator_loss
from pygan.ops.gan_objective import discriminator_objective, generator_objective
from pygan.ops.gradient_penalty import gradient_penalty
from pygan.ops.leaky_relu import FusedLeakyReLU, fused_leaky_relu, fused_leaky_relu_
from pygan.ops.reference import DiscriminatorLossResult, GeneratorLossResult, GradientPenaltyResult

__all__ = [
    "BatchNormLeakyReLU",
    "Conv2d",
    "ConvTranspose2d",
    "DiscriminatorLossResult",
    "FusedLeakyReLU",
    "GeneratorLossResult",
    "GradientPenaltyResult",
    "batch_norm_leaky_relu",
    "conv2d_weight_grad",
    "diff_augment",
    "discriminator_loss",
    "discriminator_objective",
    "fused_leaky_relu",
    "fused_leaky_relu_",
    "generator_loss",
    "generator_objective",
    "gradient_penalty",
]

if _extension._C is not None:
    # Registers the fake (meta) kernels that torch.compile and opcheck use, and the FLOP counts
    # FlopCounterMode uses.
    from pygan.ops import _fake, _flop_formulas  # noqa: F401
