"""The pyramid-context generator shared by PEN-Net and SRPNet.

encoder (6 levels) → attention-transfer cascade from deep to shallow → decoder with an RGB side
output at every scale. With `residual_blocks=False` this is PEN-Net's `InpaintGenerator` and its
state_dict has exactly the official names and shapes (dw_conv01..06, at_conv01..04, up_conv01..05,
torgb1..5, decoder); with `residual_blocks=True` each encoder level gains SRPNet's residual block
(`dw_conv0k.2.*`).
"""

from __future__ import annotations

import torch
from torch import nn

from models.attention import AttentionTransfer
from models.decoder import output_head, to_rgb, up_stage, upsample
from models.encoder import ENCODER_CHANNELS, encoder_stage
from models.initialization import init_conv_weights

LEVELS = len(ENCODER_CHANNELS) - 1  # 6
SIZE_MULTIPLE = 2**LEVELS  # 64: every level must halve exactly


def generator_input(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """PEN-Net's input: holes filled with +1 (white), then the mask as a 4th channel.

    Written as a select rather than x·(1−m)+m (equal for {0,1} masks) so that no value in a hole,
    not even NaN, can reach the network.
    """
    return torch.cat([torch.where(masks > 0.5, torch.ones_like(images), images), masks], dim=1)


def check_image_shape(shape: torch.Size | tuple[int, ...]) -> None:
    """Square images whose side is a multiple of 64; anything else raises a ValueError."""
    height, width = shape[-2:]
    if height != width or height % SIZE_MULTIPLE or height < SIZE_MULTIPLE:
        raise ValueError(
            f"the pyramid generator needs square images whose side is a multiple of "
            f"{SIZE_MULTIPLE}, got shape {tuple(shape)}"
        )


class PyramidContextGenerator(nn.Module):
    """PEN-Net's generator (residual_blocks=False) or SRPNet's (True); see the module docstring."""

    def __init__(self, residual_blocks: bool = False) -> None:
        super().__init__()
        channels = ENCODER_CHANNELS
        for level in range(1, LEVELS + 1):
            self.add_module(f"dw_conv{level:02d}", encoder_stage(level, residual_blocks))
        # departure: Table A1's five ATMConv rows (kernel 1, stride 1, C→C) are read as each attention transfer's shape (C channels in and out, resolution kept), not as 1×1 convolutions: Section 3.1 reuses PEN-Net's ATM [12], so we keep its 3×3 patch matching at levels 4–1 (1×1 at level 5) and its four dilated 3×3 fusion convs of C/4 channels each.
        # The deepest attention transfer matches 1×1 patches and has no fusion convs.
        self.at_conv05 = AttentionTransfer(channels[5], ksize=1, fuse=False)
        for level in range(LEVELS - 2, 0, -1):
            self.add_module(f"at_conv{level:02d}", AttentionTransfer(channels[level]))
        for level in range(LEVELS - 1, 0, -1):
            # up_conv05 sees only the deepest map; the others see cat(decoded, filled skip).
            in_channels = channels[LEVELS] if level == LEVELS - 1 else 2 * channels[level + 1]
            self.add_module(f"up_conv{level:02d}", up_stage(in_channels, channels[level]))
        for level in range(LEVELS - 1, 0, -1):
            self.add_module(f"torgb{level}", to_rgb(2 * channels[level]))
        self.decoder = output_head(2 * channels[1], channels[1])
        init_conv_weights(self)

    def forward(
        self, inputs: torch.Tensor, mask: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """`inputs` = generator_input(images, masks) (B×4×S×S), `mask` B×1×S×S (1 = hole).

        Returns ([side outputs at S/2, S/4, …, S/32], output at S), all RGB in [-1, 1].
        """
        check_image_shape(inputs.shape)
        features = []
        x = inputs
        for level in range(1, LEVELS + 1):
            x = getattr(self, f"dw_conv{level:02d}")(x)
            features.append(x)
        # Cascade: each level is rebuilt from the already rebuilt level below it.
        filled = features[:]
        for level in range(LEVELS - 1, 0, -1):
            attention = getattr(self, f"at_conv{level:02d}")
            filled[level - 1] = attention(features[level - 1], filled[level], mask)
        pyramid = []
        x = filled[LEVELS - 1]
        for level in range(LEVELS - 1, 0, -1):
            decoded = getattr(self, f"up_conv{level:02d}")(upsample(x))
            x = torch.cat([decoded, filled[level - 1]], dim=1)
            pyramid.insert(0, getattr(self, f"torgb{level}")(x))
        return pyramid, self.decoder(upsample(x))
