"""Training-view options any recipe can switch on: resize then random crop, a small random
rotation (PIC-Net's loader: Resize 266², RandomCrop 256², horizontal flip, RandomRotation(3)),
and random zoom-in crops (the learn profile's: more distinct training crops from few images).

They are data config keys (`data.train_resize_crop`, `data.train_rotation`, `data.train_zoom`);
with all off the training view is the dataset's own (`ImageDataset.augmented`), unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from bench.data.images import to_image, to_tensor

REFERENCE_SIZE = 256  # train_resize_crop is given at this working size and scales with it


def load_side(resize_crop: int, size: int) -> int:
    """The side the whole image is resized to before the random size² crop (266 at 256 → 67 at 64)."""
    return max(size, round(resize_crop * size / REFERENCE_SIZE))


def random_crop(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """A size × size crop at a uniformly drawn position (torchvision's RandomCrop)."""
    top = int(rng.integers(0, image.height - size + 1))
    left = int(rng.integers(0, image.width - size + 1))
    return image.crop((left, top, left + size, top + size))


def random_rotation(image: Image.Image, degrees: int, rng: np.random.Generator) -> Image.Image:
    """torchvision's RandomRotation(degrees): angle uniform in [-degrees, degrees], about the
    centre, nearest neighbour, same canvas, black corners."""
    angle = float(rng.uniform(-degrees, degrees))
    return image.rotate(angle, resample=Image.Resampling.NEAREST, expand=False, fillcolor=(0, 0, 0))


def train_item(dataset: Any, index: int, rng: np.random.Generator, *, resize_crop: int | None,
               rotation: int, zoom: int = 1) -> dict[str, Any]:
    """Item `index` of `dataset` (an ImageDataset) as training sees it, its randomness from `rng`;
    `zoom` > 1 (data.train_zoom) sees it at a zoom drawn uniformly from 1…zoom."""
    if resize_crop is None:
        item = dataset.augmented(index, rng, 1 if zoom == 1 else int(rng.integers(1, zoom + 1)))
    else:
        image = random_crop(dataset.load_at(index, load_side(resize_crop, dataset.size)), dataset.size, rng)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        item = {"image": to_tensor(image), "id": dataset.ids[index], "domain": dataset.domains[index]}
    if rotation:
        item["image"] = to_tensor(random_rotation(to_image(item["image"]), rotation, rng))
    return item
