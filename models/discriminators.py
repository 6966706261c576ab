"""Discriminators: PEN-Net's spectral-norm patch discriminator and SRPNet's global + local pair.

Every discriminator here takes (images, masks) and returns a list of logit maps, one per critic,
so the losses treat PEN-Net's single critic and SRPNet's two alike. Logits are raw scores: the
nsgan loss applies the sigmoid itself (see models/losses.py).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import spectral_norm

from models.initialization import init_conv_weights
from models.local_crop import crop_around_holes

LEAKY_SLOPE = 0.2
KERNEL = 5
# Table A2's five stride-2 5×5 convs (padding 1) need at least a 63² input; the next even size:
LOCAL_MIN_SIZE = 64


def _sn_conv(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Spectral-norm 5×5 conv without bias (names weight_orig / weight_u / weight_v)."""
    conv = init_conv_weights(nn.Conv2d(in_channels, out_channels, KERNEL, stride, 1, bias=False))
    return spectral_norm(conv)


def _sn_encoder(strides: tuple[int, ...]) -> nn.Sequential:
    """3 → 64 → 128 → 256 → 512 spectral-norm convs, each + LeakyReLU(0.2)."""
    channels = (3, 64, 128, 256, 512)
    layers: list[nn.Module] = []
    for index, stride in enumerate(strides):
        layers += [_sn_conv(channels[index], channels[index + 1], stride),
                   nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
    return nn.Sequential(*layers)


class PatchDiscriminator(nn.Module):
    """PEN-Net's `Discriminator(in_channels=3)`: a 27×27 logit map for a 256² image.

    state_dict names are the official ones (encoder.{0,2,4,6}.weight_{orig,u,v}, classifier.*).
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _sn_encoder((2, 2, 2, 1))
        self.classifier = init_conv_weights(nn.Conv2d(512, 1, KERNEL, 1, 1))

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> list[torch.Tensor]:
        """`masks` is unused: PEN-Net's critic sees only the whole image."""
        del masks
        return [self.classifier(self.encoder(images))]


class ContextDiscriminator(nn.Module):
    """SRPNet's Table A2 critic: five 5×5 stride-2 convs, 3→64→128→256→512→1, each + LeakyReLU.

    For 256² it gives a 7×7 map, for a 128² crop 3×3.
    """

    def __init__(self) -> None:
        super().__init__()
        # paper silent: spectral norm without bias on the four hidden convs and a plain last conv, as PEN-Net's critic.
        self.encoder = _sn_encoder((2, 2, 2, 2))
        self.classifier = init_conv_weights(nn.Conv2d(512, 1, KERNEL, 2, 1))
        # Table A2 lists LeakyReLU on the last (1-channel) row too; kept as printed.
        self.output_activation = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.output_activation(self.classifier(self.encoder(images)))


def local_crop_size(image_size: int) -> int:
    """Half the image side (paper: the local critic sees the inpainted region), at least 64."""
    # departure: below 128² images the local crop is 64 px instead of half the side, since Table A2's critic needs a 63² input.
    return min(image_size, max(image_size // 2, LOCAL_MIN_SIZE))


class GlobalLocalDiscriminator(nn.Module):
    """SRPNet's multi-scale critics: a global one on the whole image, a local one on the crop
    centred on the holes (same architecture, separate weights)."""

    def __init__(self, image_size: int) -> None:
        super().__init__()
        self.local_size = local_crop_size(image_size)
        self.global_critic = ContextDiscriminator()
        self.local_critic = ContextDiscriminator()

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> list[torch.Tensor]:
        local = crop_around_holes(images, masks, self.local_size)
        return [self.global_critic(images), self.local_critic(local)]
