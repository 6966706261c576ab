"""PEN-Net's weight initialisation (`BaseNetwork.init_weights`): conv weights N(0, 0.02),
biases 0."""

from __future__ import annotations

from torch import nn

INIT_STD = 0.02


def init_conv_weights(module: nn.Module) -> nn.Module:
    """Initialise every conv (plain or transposed) inside `module` in place; returns `module`."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.conv._ConvNd):
            nn.init.normal_(layer.weight, 0.0, INIT_STD)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module
