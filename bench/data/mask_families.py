"""LaMa's and MAT's evaluation mask families as seeded generators (the distribution those papers
evaluate on, never the authors' own test files: their generators do not seed their draws).

Each family draws from a numpy RandomState in the order the authors' code draws from numpy's
global state, with the authors' rasteriser (OpenCV for LaMa, Pillow for MAT), so
`np.random.seed(k)` followed by the authors' generator and `family_mask(name, RandomState(k))`
give the same mask pixel for pixel (tests/test_mask_families.py holds this against masks
recorded from their code). Masks are boolean arrays at the family's native size, True = hole.

LaMa, advimman/lama @ 786f5936b27fb3dacd2b1ad799e4de968ea697e7: configs/data_gen/
random_{thin,medium,thick}_{256,512}.yaml run through bin/gen_mask_dataset.py with
saicinpainting/training/data/masks.py's MixedMaskGenerator (strokes drawn with cv2.line, boxes):
per image, `variants_n` = 5 candidate masks, each followed by the draw of its square crop's offset
(propose_random_square_crop; on a square image the crop is the whole image, the draw still
happens), candidates with more than `max_tamper_area` = 0.5 hole dropped, one kept by
`np.random.choice(..., replace=False)`. When every candidate is dropped the authors' script writes
no mask for that image; here the same stream is drawn on for a next image until one is kept.
Without a ramp the generators' upper limits are one above the configs' (stroke count up to
max_times + 1, box side up to bbox_max_size), as their code computes them.

MAT, fenglinglwb/MAT @ d273d891ecdad2e1df106516423a75bc45b2d800: datasets/mask_generator_512.py
(large) and mask_generator_512_small.py (small), `RandomMask(512)` with its default hole_range
[0, 1]: rectangles of up to half and up to the whole side, then brush strokes (Pillow lines with
round vertices); the two `mask.transpose(...)` calls per stroke discard their result (their coin
draws are kept, the mask is not flipped), and a mask whose hole ratio is not strictly inside the
hole range is drawn again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

LAMA = "LaMa-distribution"
MAT = "MAT-distribution"
MAT_RELEASED = "MAT's released masks"
"""The label of masks imported from MAT's published evaluation files (bench.data.mask_import)."""
RELEASED_ID = "-released-"
"""In the mask id of an imported released mask ("mat-large-512-released-00000", bench.data.masks)."""


@dataclass(frozen=True)
class LamaStrokes:
    """irregular_kwargs of a LaMa data_gen config."""

    min_times: int
    max_times: int
    max_width: int
    max_angle: int
    max_len: int


@dataclass(frozen=True)
class LamaBoxes:
    """box_kwargs of a LaMa data_gen config (drawn with box_proba 0.3 against strokes' 1)."""

    margin: int
    min_size: int
    max_size: int
    min_times: int
    max_times: int


@dataclass(frozen=True)
class LamaFamily:
    size: int
    strokes: LamaStrokes
    boxes: LamaBoxes | None = None
    box_weight: float = 0.3  # box_proba beside irregular_proba 1
    variants: int = 5  # variants_n
    max_hole: float = 0.5  # max_tamper_area


@dataclass(frozen=True)
class MatFamily:
    """RandomMask's counts: rectangle rounds up to half the side, up to the side, brush strokes
    (each an exclusive upper bound of np.random.randint); the brush's shape is the same in both."""

    half_fills: int
    full_fills: int
    strokes: int
    size: int = 512
    min_vertices: int = 4
    max_vertices: int = 18
    mean_angle: float = 2 * math.pi / 5
    angle_range: float = 2 * math.pi / 15
    min_width: int = 12
    max_width: int = 48


FAMILIES: dict[str, LamaFamily | MatFamily] = {
    "lama-thin-256": LamaFamily(256, LamaStrokes(4, 50, 10, 4, 40)),
    "lama-medium-256": LamaFamily(256, LamaStrokes(4, 5, 50, 4, 100), LamaBoxes(0, 10, 50, 1, 5)),
    "lama-thick-256": LamaFamily(256, LamaStrokes(1, 5, 100, 4, 200), LamaBoxes(10, 30, 150, 1, 3)),
    "lama-thin-512": LamaFamily(512, LamaStrokes(4, 70, 20, 4, 100)),
    "lama-medium-512": LamaFamily(512, LamaStrokes(4, 10, 100, 4, 200), LamaBoxes(0, 30, 150, 1, 5)),
    "lama-thick-512": LamaFamily(512, LamaStrokes(1, 5, 250, 4, 450), LamaBoxes(10, 30, 300, 1, 4)),
    "mat-small-512": MatFamily(3, 2, 4),
    "mat-large-512": MatFamily(5, 3, 9),
}


def label(name: str, released: bool = False) -> str:
    """How a report and an export name a family's masks: 'LaMa-distribution thick 256', or
    'MAT's released masks large 512' for masks imported from MAT's files (`released`)."""
    source, width, size = name.split("-")
    return f"{MAT_RELEASED if released else LAMA if source == 'lama' else MAT} {width} {size}"


def released_id(name: str, index: int) -> str:
    return f"{name}{RELEASED_ID}{index:05d}"


def is_released(mask_id: str) -> bool:
    """Whether a row's mask id names a mask imported from the authors' released files."""
    return RELEASED_ID in mask_id


def describe(name: str) -> str:
    """A family's label with where its parameters come from, for protocol.json."""
    source = ("advimman/lama@786f5936 configs/data_gen/random_{}_{}.yaml".format(*name.split("-")[1:])
              if name.startswith("lama") else
              f"fenglinglwb/MAT@d273d891 datasets/mask_generator_512{'_small' if 'small' in name else ''}.py")
    return (f"{label(name)}: masks drawn by a seeded generator after {source} at "
            f"{native_size(name)}×{native_size(name)}, resized nearest to the working size; "
            "not the authors' own test masks")


def native_size(name: str) -> int:
    return FAMILIES[name].size


def family_mask(name: str, rng: np.random.RandomState) -> np.ndarray:
    """One mask of family `name` at its native size (True = hole), drawn from `rng`."""
    family = FAMILIES[name]
    if isinstance(family, MatFamily):
        return mat_mask(family, rng)
    while (mask := lama_image_mask(family, rng)) is None:
        pass
    return mask


# --- LaMa --------------------------------------------------------------------------------------
def lama_image_mask(family: LamaFamily, rng: np.random.RandomState) -> np.ndarray | None:
    """The mask gen_mask_dataset.py keeps for one square image, or None when it keeps none."""
    weights = np.array([1.0] + ([family.box_weight] if family.boxes else []), dtype=np.float32)
    weights /= weights.sum()
    kept = []
    for _ in range(family.variants):
        boxes = rng.choice(len(weights), p=weights) == 1
        mask = _lama_boxes(family.boxes, family.size, rng) if boxes else _lama_strokes(family.strokes, family.size, rng)
        rng.randint(0, 1)  # the square crop's offset: always 0 on a square image
        if mask.mean() <= family.max_hole:
            kept.append(mask)
    chosen = rng.choice(len(kept), size=min(len(kept), 1), replace=False)
    return kept[chosen[0]] > 0 if len(chosen) else None


def _lama_strokes(p: LamaStrokes, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Polylines of 1-5 straight cv2 segments; even-numbered polylines turn the other way."""
    import cv2  # here, not at the top: the CLI's parser loads this module, and cv2 takes 0.6 s to load

    mask = np.zeros((size, size), np.float32)
    for polyline in range(rng.randint(p.min_times, p.max_times + 2)):
        x, y = rng.randint(size), rng.randint(size)
        for _ in range(1 + rng.randint(5)):
            angle = 0.01 + rng.randint(p.max_angle)  # radians, as the authors' code has it
            if polyline % 2 == 0:
                angle = 2 * 3.1415926 - angle  # their value of pi, kept for identical truncation
            length, width = 10 + rng.randint(p.max_len), 5 + rng.randint(p.max_width)
            x_end = min(max(int(x + length * np.sin(angle)), 0), size)
            y_end = min(max(int(y + length * np.cos(angle)), 0), size)
            cv2.line(mask, (x, y), (x_end, y_end), 1.0, width)
            x, y = x_end, y_end
    return mask


def _lama_boxes(p: LamaBoxes, size: int, rng: np.random.RandomState) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    largest = min(p.max_size + 1, size - 2 * p.margin)
    for _ in range(rng.randint(p.min_times, p.max_times + 1)):
        width, height = rng.randint(p.min_size, largest), rng.randint(p.min_size, largest)
        left = rng.randint(p.margin, size - p.margin - width + 1)
        top = rng.randint(p.margin, size - p.margin - height + 1)
        mask[top:top + height, left:left + width] = 1
    return mask


# --- MAT ---------------------------------------------------------------------------------------
def mat_mask(family: MatFamily, rng: np.random.RandomState) -> np.ndarray:
    """RandomMask(512) with hole_range [0, 1], as a hole mask."""
    size = family.size
    while True:
        known = np.ones((size, size), np.uint8)
        for rounds, largest in ((family.half_fills, size // 2), (family.full_fills, size)):
            for _ in range(rng.randint(rounds)):
                _mat_rectangle(known, largest, rng)
        known &= 1 - _mat_brush(family, rng)
        hole = 1 - known.mean()
        if 0 < hole < 1:
            return known == 0


def _mat_rectangle(known: np.ndarray, largest: int, rng: np.random.RandomState) -> None:
    """A rectangle of sides below `largest`, allowed half outside the image, cleared."""
    size = known.shape[0]
    width, height = rng.randint(largest), rng.randint(largest)
    left = rng.randint(-(width // 2), size - width + width // 2)
    top = rng.randint(-(height // 2), size - height + height // 2)
    known[max(top, 0):min(top + height, size), max(left, 0):min(left + width, size)] = 0


def _mat_brush(f: MatFamily, rng: np.random.RandomState) -> np.ndarray:
    """RandomBrush: zig-zag polylines with round vertices, drawn with Pillow; 1 = stroke."""
    size = f.size
    radius = math.sqrt(2 * size * size) / 8
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.randint(f.strokes)):
        count = rng.randint(f.min_vertices, f.max_vertices)
        low, high = f.mean_angle - rng.uniform(0, f.angle_range), f.mean_angle + rng.uniform(0, f.angle_range)
        angles = [rng.uniform(low, high) if i % 2 else 2 * math.pi - rng.uniform(low, high) for i in range(count)]
        points = [(int(rng.randint(0, size)), int(rng.randint(0, size)))]
        for angle in angles:
            step = np.clip(rng.normal(loc=radius, scale=radius // 2), 0, 2 * radius)
            x = np.clip(points[-1][0] + step * math.cos(angle), 0, size)
            y = np.clip(points[-1][1] + step * math.sin(angle), 0, size)
            points.append((int(x), int(y)))
        width = int(rng.uniform(f.min_width, f.max_width))
        draw.line(points, fill=1, width=width)
        for x, y in points:
            draw.ellipse((x - width // 2, y - width // 2, x + width // 2, y + width // 2), fill=1)
        rng.random_sample(), rng.random_sample()  # the two flips whose result MAT discards
    brush = np.asarray(canvas, np.uint8)
    if rng.random_sample() > 0.5:
        brush = np.flip(brush, 0)
    if rng.random_sample() > 0.5:
        brush = np.flip(brush, 1)
    return brush
