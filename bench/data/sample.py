"""The embedded `sample` dataset: real photographs that ship inside our dependencies.

Twelve images from scikit-image's data module and matplotlib's sample data, grouped into the
paper's four domains (a proxy for each of its datasets, far too small to compare with it):
texture (DTD), facade-like (CMP Facade), face (CelebA-HQ) and scene (Places2). Nothing is
downloaded and no image is stored in git.

Train and test never share a pixel: each source image is scaled so that its short side is twice
the working size and cut in two along its long side; random training crops come from the first
half, and the test split is a fixed list of crops from the second half.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.images import to_rgb

# domain → (paper dataset it stands in for, source images)
DOMAINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "texture": ("dtd", ("skimage:grass", "skimage:gravel", "skimage:immunohistochemistry")),
    "facade": ("facade", ("skimage:brick", "skimage:rocket", "skimage:coins")),
    "face": ("celeba-hq", ("skimage:astronaut", "matplotlib:grace_hopper.jpg", "skimage:chelsea")),
    "scene": ("places2", ("skimage:coffee", "skimage:camera", "skimage:hubble_deep_field")),
}
TEST_CROPS_PER_SOURCE = 2


@lru_cache(maxsize=None)
def load_source(source: str) -> Image.Image:
    """One embedded photograph as RGB, by 'skimage:NAME' or 'matplotlib:FILE'."""
    package, name = source.split(":", 1)
    if package == "skimage":
        import skimage.data

        array = getattr(skimage.data, name)()
        return to_rgb(Image.fromarray(np.asarray(array)))
    if package == "matplotlib":
        import matplotlib

        with Image.open(Path(matplotlib.get_data_path()) / "sample_data" / name) as image:
            return to_rgb(image)
    raise ValueError(f"sample source {source!r}: unknown package {package!r}")


@dataclass(frozen=True)
class Region:
    """One half of a scaled source image: (left, top, width, height) in scaled pixels."""

    source: str
    domain: str
    box: tuple[int, int, int, int]


@lru_cache(maxsize=64)
def scaled_source(source: str, size: int) -> Image.Image:
    image = load_source(source)
    scale = 2 * size / min(image.size)
    width, height = (max(2 * size, round(d * scale)) for d in image.size)
    return image.resize((width, height), Image.Resampling.BICUBIC)


def halves(source: str, domain: str, size: int) -> tuple[Region, Region]:
    """The (train, test) halves of a source, cut across its long side."""
    width, height = scaled_source(source, size).size
    if width >= height:
        half = width // 2
        return (Region(source, domain, (0, 0, half, height)),
                Region(source, domain, (half, 0, width - half, height)))
    half = height // 2
    return (Region(source, domain, (0, 0, width, half)),
            Region(source, domain, (0, half, width, height - half)))


def crop(region: Region, size: int, x: int, y: int, zoom: int = 1) -> Image.Image:
    """A size² crop at (x, y) of a region of its source scaled for working size size·zoom."""
    left, top, _, _ = region.box
    return scaled_source(region.source, size * zoom).crop((left + x, top + y, left + x + size, top + y + size))


def test_crop_offsets(region: Region, size: int) -> list[tuple[int, int]]:
    """The fixed test crops of a region: its two opposite corners (x, y)."""
    _, _, width, height = region.box
    return [(0, 0), (width - size, height - size)][:TEST_CROPS_PER_SOURCE]


def random_crop_offset(region: Region, size: int, rng: np.random.Generator) -> tuple[int, int]:
    _, _, width, height = region.box
    return int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))


def source_name(source: str) -> str:
    return Path(source.split(":", 1)[1]).stem
