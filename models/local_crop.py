"""The local discriminator's view: a fixed-size square crop around each sample's holes.

The crop is centred on the bounding box of all hole pixels of the sample (a single square hole,
or every hole of an irregular mask together) and shifted to lie inside the image. Crops are
gathered for the whole batch at once with index tensors, so gradients reach the cropped pixels.
"""

from __future__ import annotations

import torch


def crop_origins(masks: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top and left corners (two B-long integer tensors) of each sample's `size`² crop.

    A sample without holes gets the centre crop.
    """
    height, width = masks.shape[-2:]
    if size > min(height, width):
        raise ValueError(f"local crop {size} is larger than the {height}x{width} masks")
    holes = masks[:, 0] > 0.5
    top = _centred_start(holes.any(dim=2), size)
    left = _centred_start(holes.any(dim=1), size)
    return top, left


def _centred_start(occupied: torch.Tensor, size: int) -> torch.Tensor:
    """B×N booleans (rows or columns holding a hole) → start of a `size` window centred on them."""
    length = occupied.shape[1]
    index = torch.arange(length, device=occupied.device)
    first = torch.where(occupied, index, length).amin(dim=1)
    last = torch.where(occupied, index, -1).amax(dim=1)
    empty = last < 0
    first = torch.where(empty, torch.zeros_like(first), first)
    last = torch.where(empty, torch.full_like(last, length - 1), last)
    # window centre = box centre: start = (first + last + 1 - size) / 2, floored, then clamped
    start = torch.div(first + last + 1 - size, 2, rounding_mode="floor")
    return start.clamp(0, length - size)


def crop_around_holes(images: torch.Tensor, masks: torch.Tensor, size: int) -> torch.Tensor:
    """B×C×size×size crops of `images`, one per sample, placed by `crop_origins(masks, size)`."""
    top, left = crop_origins(masks, size)
    offsets = torch.arange(size, device=images.device)
    rows = (top[:, None] + offsets)[:, None, :, None]  # B×1×S×1
    cols = (left[:, None] + offsets)[:, None, None, :]  # B×1×1×S
    batch = torch.arange(images.shape[0], device=images.device)[:, None, None, None]
    channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return images[batch, channels, rows, cols]
