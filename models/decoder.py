"""The multi-layer decoder's parts: ×2 bilinear upsampling, conv stages, RGB side outputs and the
final output head (PEN-Net `InpaintGenerator`, SRPNet Table A1 "DeConv"/"Output" rows)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def upsample(x: torch.Tensor) -> torch.Tensor:
    """×2 bilinear upsampling with align_corners=True, as the official decoder."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


def up_stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """conv 3×3 + ReLU, applied after `upsample` (Table A1 "DeConv")."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True))


def to_rgb(in_channels: int) -> nn.Sequential:
    """A side output: conv 1×1 to RGB + Tanh (Table A1 "Output1".."Output5")."""
    return nn.Sequential(nn.Conv2d(in_channels, 3, 1), nn.Tanh())


def output_head(in_channels: int, mid_channels: int) -> nn.Sequential:
    """The final output: conv 3×3 + ReLU, conv 3×3 to RGB + Tanh (Table A1 "Output6")."""
    return nn.Sequential(
        nn.Conv2d(in_channels, mid_channels, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(mid_channels, 3, 3, padding=1),
        nn.Tanh(),
    )
