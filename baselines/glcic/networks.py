"""GLCIC's networks (Iizuka et al. 2017): the completion network and the context discriminator.

The layers follow the paper's tables (reference notes, models.md §3.1-3.2). Module and parameter
names are those of the public reimplementation otenim/GLCIC-PyTorch (shared/parity/glcic/*.tsv),
so its checkpoints load by name; they were trained with BN after ReLU, though, so they do not
reproduce its outputs in this (the paper's) layer order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (kind, out_channels, kernel, stride, dilation) of layers 1-16, each followed by BN and ReLU.
COMPLETION_LAYERS = (
    ("conv", 64, 5, 1, 1),
    ("conv", 128, 3, 2, 1),
    ("conv", 128, 3, 1, 1),
    ("conv", 256, 3, 2, 1),
    ("conv", 256, 3, 1, 1),
    ("conv", 256, 3, 1, 1),
    ("conv", 256, 3, 1, 2),
    ("conv", 256, 3, 1, 4),
    ("conv", 256, 3, 1, 8),
    ("conv", 256, 3, 1, 16),
    ("conv", 256, 3, 1, 1),
    ("conv", 256, 3, 1, 1),
    ("deconv", 128, 4, 2, 1),
    ("conv", 128, 3, 1, 1),
    ("deconv", 64, 4, 2, 1),
    ("conv", 32, 3, 1, 1),
)
LOCAL_CHANNELS = (64, 128, 256, 512, 512)
GLOBAL_CHANNELS = (64, 128, 256, 512, 512, 512)  # the paper's Places2 global branch: 6 convs
FEATURES = 1024


class CompletionNetwork(nn.Module):
    """RGB (holes filled with the mean colour) + mask in [0, 1] -> RGB in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        channels = 4
        self._hidden: list[tuple[str, str]] = []
        for index, (kind, out, kernel, stride, dilation) in enumerate(COMPLETION_LAYERS, start=1):
            if kind == "deconv":
                layer: nn.Module = nn.ConvTranspose2d(channels, out, kernel, stride, padding=1)
            else:
                padding = dilation * (kernel - 1) // 2
                layer = nn.Conv2d(channels, out, kernel, stride, padding, dilation)
            self.add_module(f"{kind}{index}", layer)
            self.add_module(f"bn{index}", nn.BatchNorm2d(out))
            self._hidden.append((f"{kind}{index}", f"bn{index}"))
            channels = out
        self.conv17 = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm in self._hidden:
            # departure: conv -> BN -> ReLU as the paper; otenim/GLCIC-PyTorch applies BN after ReLU.
            x = F.relu(getattr(self, norm)(getattr(self, conv)(x)))
        return torch.sigmoid(self.conv17(x))


class ContextBranch(nn.Module):
    """One context discriminator: 5x5 stride-2 convs (conv -> BN -> ReLU), then FC -> 1024."""

    def __init__(self, input_size: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        depth, side = 3, input_size
        for index, out in enumerate(channels, start=1):
            self.add_module(f"conv{index}", nn.Conv2d(depth, out, 5, 2, padding=2))
            self.add_module(f"bn{index}", nn.BatchNorm2d(out))
            depth, side = out, (side + 1) // 2
        self._convs = len(channels)
        self.add_module(f"linear{self._convs + 1}", nn.Linear(depth * side * side, FEATURES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index in range(1, self._convs + 1):
            x = F.relu(getattr(self, f"bn{index}")(getattr(self, f"conv{index}")(x)))
        # paper silent: ReLU after the FC-1024 layer, as otenim/GLCIC-PyTorch.
        return F.relu(getattr(self, f"linear{self._convs + 1}")(x.flatten(1)))


class ContextDiscriminator(nn.Module):
    """Local (crop around the hole, half the image side) and global branches -> one logit each.

    The paper's final sigmoid is folded into the BCE-with-logits loss.
    """

    def __init__(self, image_size: int) -> None:
        super().__init__()
        self.local_size = image_size // 2
        self.model_ld = ContextBranch(self.local_size, LOCAL_CHANNELS)
        self.model_gd = ContextBranch(image_size, GLOBAL_CHANNELS)
        self.linear1 = nn.Linear(2 * FEATURES, 1)

    def forward(self, local: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.model_ld(local), self.model_gd(whole)], dim=1)
        return self.linear1(features).squeeze(1)
