"""The pyramid encoder: six stride-2 3×3 convs (PEN-Net), optionally each followed by SRPNet's
residual block with instance normalisation (paper Section 3.1, Table A1)."""

from __future__ import annotations

import torch
from torch import nn

# Input (masked RGB + mask) and the six encoder levels: 256² → 128, 64, 32, 16, 8, 4 px.
ENCODER_CHANNELS = (4, 32, 64, 128, 256, 512, 512)
LEAKY_SLOPE = 0.2


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))), 3×3 convs that keep channels and resolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        # departure: residual blocks use stride 1, padding 1 where Table A1 prints stride 2, padding 0, which would shrink each level and break the pyramid sizes the table itself lists.
        # paper silent: zero padding, conv biases kept, InstanceNorm2d without affine parameters (torch default).
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:].numel() == 1:
            # Instance norm of a single value is exactly 0, so the block is the identity here;
            # torch refuses a 1×1 instance norm (the deepest level of a 64² input).
            return x
        return x + self.body(x)


def encoder_stage(level: int, residual: bool) -> nn.Sequential:
    """Level 1..6: conv 3×3 stride 2 + activation [+ residual block].

    The activation is LeakyReLU(0.2), except after PEN-Net's sixth conv (ReLU); SRPNet's residual
    encoder follows Table A1, which prints LReLU after all six. Indexed so that the conv is `.0`
    (the official checkpoints' `dw_conv0k.0.*` names) and the residual block, when present, is `.2`.
    """
    in_channels, out_channels = ENCODER_CHANNELS[level - 1], ENCODER_CHANNELS[level]
    deepest = level == len(ENCODER_CHANNELS) - 1
    # departure: the sixth encoder conv of the residual encoder ends in LeakyReLU(0.2) as Table A1 prints (PEN-Net's code uses ReLU there, which the plain encoder of srpnet-baseline and pennet keeps).
    pennet_relu = deepest and not residual
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
        nn.ReLU(inplace=True) if pennet_relu else nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
    ]
    if residual:
        layers.append(ResidualBlock(out_channels))
    return nn.Sequential(*layers)
