"""Spectral normalisation of a discriminator (Miyato et al. 2018, SNGAN): every weight divided by
its largest singular value, estimated by one power iteration per forward pass, so D is
1-Lipschitz per layer. Shared by the dcgan and mlp architectures' `spectral-norm` option."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def apply_spectral_norm(net: nn.Module) -> nn.Module:
    """Parametrises the weight of every convolution and linear layer of `net` in place; returns it.
    Call after initialising the weights: the parametrised weight is computed, not stored."""
    for module in list(net.modules()):
        if isinstance(module, WEIGHTED):
            spectral_norm(module)
    return net
