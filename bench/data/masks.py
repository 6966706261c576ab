"""Hole masks: the centre square, PEN-Net's training squares, and irregular masks in six buckets.

Convention everywhere in the harness: float32 arrays H×W in {0, 1}, **1 = hole**.

Irregular masks come from the NVIDIA irregular-mask test set when the user has it (12,000 PNGs,
white = hole, 2,000 per bucket in ascending ratio order; resized to the working size with
nearest neighbour and the hole ratio recomputed), otherwise from our own seeded generator:
strokes, arcs and blobs drawn with Pillow (after Pluralistic's `random_irregular_mask`, widths
scaled with the image and the bucket), resampled until the hole ratio lies in the bucket (at most
MAX_DRAWS times; a bucket that cannot be filled at a size is an error naming both).
Mask i of a test set is a pure function of (seed, bucket, i), so every method sees the same masks.

LaMa's and MAT's mask families (bench.data.mask_families) are settings beside these, named after
the family ("lama-thick-256", "mat-large-512"): mask i is drawn at the family's native size from a
RandomState seeded by (seed, family, i) and resized to the working size with nearest neighbour
(the hole ratio recomputed); a working size above the native size is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bench.records import reading
from bench.data import mask_families

BUCKETS: list[tuple[float, float]] = [
    (0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6),
]
BUCKET_LABELS = ["[0.01,0.1]", "(0.1,0.2]", "(0.2,0.3]", "(0.3,0.4]", "(0.4,0.5]", "(0.5,0.6]"]
NVIDIA_MASKS_PER_BUCKET = 2000
TRAINING_KINDS = ("square", "irregular", "mixed", "rectangle", "pluralistic")
# GLCIC's training hole at 256 px (Iizuka et al. 2017, Sec. 4: one hole of 96-128 px per side in a
# 256 crop); the public PyTorch reference (otenim/GLCIC-PyTorch) draws 48-96 instead.
GLCIC_HOLE_SIDES = (96, 128)
MAX_DRAWS = 1000  # bound of the rejection sampling; 2,000 masks per bucket at 64²–256² need at most 7
MAX_SHAPES = 1000  # shapes per draw (at most 36 seen at 256²); a draw stops there, kept only if in the bucket


class MaskError(ValueError):
    """A mask file, folder or setting that cannot be used."""


@dataclass(frozen=True)
class EvalSetting:
    """One evaluation mask setting, by its name in eval.masks: "center", "irregular_<k>" for
    hole-ratio bucket k of BUCKETS, or a mask family's name (bench.data.mask_families). Its kind
    and bucket label are what evaluation rows record, its folder is where its sample images go."""

    name: str

    @property
    def kind(self) -> str:
        return self.name.split("_")[0]

    @property
    def bucket_index(self) -> int | None:
        return int(self.name.split("_")[1]) if self.kind == "irregular" else None

    @property
    def bucket(self) -> str:
        return "all" if self.bucket_index is None else BUCKET_LABELS[self.bucket_index]

    @property
    def folder(self) -> str:
        return f"{self.kind}_{'all' if self.bucket_index is None else self.bucket_index}"

    @property
    def label(self) -> str:
        if self.kind in mask_families.FAMILIES:
            return mask_families.label(self.kind)
        return "centre square" if self.bucket_index is None else f"irregular {self.bucket}"


PAPER_SETTINGS = (EvalSetting("center"), *(EvalSetting(f"irregular_{k}") for k in range(len(BUCKETS))))
EVAL_SETTINGS = (*PAPER_SETTINGS, *(EvalSetting(name) for name in mask_families.FAMILIES))


def in_bucket(ratio: float, bucket: int) -> bool:
    """Bucket 0 is closed, [0.01, 0.1]; the others are (lo, hi]."""
    lo, hi = BUCKETS[bucket]
    return (lo <= ratio if bucket == 0 else lo < ratio) and ratio <= hi


def bucket_index(label: str) -> int:
    try:
        return BUCKET_LABELS.index(label)
    except ValueError:
        raise MaskError(f"unknown bucket {label!r}; known: {', '.join(BUCKET_LABELS)}") from None


def hole_ratio(mask: np.ndarray) -> float:
    return float(np.count_nonzero(mask)) / mask.size


def center_mask(size: int) -> np.ndarray:
    """The central square of half the side (128² at 256²), PEN-Net's test mask."""
    mask = np.zeros((size, size), np.float32)
    q = size // 4
    mask[q : q + size // 2, q : q + size // 2] = 1.0
    return mask


def random_square_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """PEN-Net's training square: a (size/2)² hole, top-left uniform in [0, size/2]²."""
    mask = np.zeros((size, size), np.float32)
    half = size // 2
    top, left = rng.integers(0, half + 1, size=2)
    mask[top : top + half, left : left + half] = 1.0
    return mask


def rotate_dilate_augment(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """PEN-Net's train-time mask augmentation: flip, rotate 0–45° (canvas expands), dilate 1 px."""
    size = mask.shape[0]
    image = Image.fromarray((mask * 255).astype(np.uint8))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = image.rotate(float(rng.uniform(0, 45)), expand=True)
    image = image.filter(ImageFilter.MaxFilter(3))
    image = image.resize((size, size), Image.Resampling.NEAREST)
    return (np.asarray(image) > 127).astype(np.float32)


def _draw_shape(draw: ImageDraw.ImageDraw, size: int, rng: np.random.Generator, width: tuple[int, int]) -> None:
    kind = rng.random()
    w = int(rng.integers(width[0], width[1] + 1))
    x, y = rng.uniform(0, size, 2)
    if kind < 0.6:  # a polyline stroke with round joints
        points = [(x, y)]
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(1, 6))):
            angle += rng.uniform(-np.pi / 2, np.pi / 2)
            length = rng.uniform(0.05, 0.25) * size
            x, y = x + length * np.cos(angle), y + length * np.sin(angle)
            points.append((x, y))
        draw.line(points, fill=255, width=w)
        for px, py in points:
            draw.ellipse((px - w / 2, py - w / 2, px + w / 2, py + w / 2), fill=255)
    elif kind < 0.8:  # a filled blob
        rx, ry = rng.uniform(0.5, 1.5, 2) * w
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=255)
    else:  # an ellipse arc
        rx, ry = rng.uniform(0.05, 0.3, 2) * size
        start = rng.uniform(0, 360)
        draw.arc((x - rx, y - ry, x + rx, y + ry), start, start + rng.uniform(30, 180), fill=255, width=w)


def irregular_mask(size: int, rng: np.random.Generator, bucket: int | None = None) -> np.ndarray:
    """A seeded irregular mask whose hole ratio lies in `bucket` (a random bucket if None).

    Shapes are added until the ratio reaches a target drawn uniformly in the bucket; a mask that
    overshoots the upper bound is discarded and redrawn (rejection sampling).
    """
    if bucket is None:
        bucket = int(rng.integers(len(BUCKETS)))
    if size < 1:
        raise MaskError(f"mask size {size}: must be a positive number of pixels")
    lo, hi = BUCKETS[bucket]
    scale = size / 256
    width = (max(1, round(4 * scale)), max(2, round((20 + 8 * bucket) * scale)))
    for _ in range(MAX_DRAWS):
        target = rng.uniform(lo, hi)  # spreads ratios over the whole bucket
        image = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(image)
        ratio = 0.0
        for _ in range(MAX_SHAPES):
            if ratio >= target and ratio > (lo if bucket > 0 else 0.0):
                break
            _draw_shape(draw, size, rng, width)
            ratio = np.count_nonzero(np.asarray(image)) / (size * size)
        if in_bucket(ratio, bucket):
            return (np.asarray(image) > 0).astype(np.float32)
    raise MaskError(f"cannot fill bucket {BUCKET_LABELS[bucket]} at {size}×{size}: no mask in {MAX_DRAWS} draws "
                    f"had its hole ratio in the bucket (at this size one pixel is {1 / size**2:.3g} of the mask)")


def rectangle_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """GLCIC's training hole: one rectangle, each side uniform in GLCIC_HOLE_SIDES (scaled with
    the size, 24-32 px at 64), placed uniformly inside the image."""
    lo, hi = (max(1, round(side * size / 256)) for side in GLCIC_HOLE_SIDES)
    height, width = (int(v) for v in rng.integers(lo, hi + 1, size=2))
    top, left = int(rng.integers(0, size - height + 1)), int(rng.integers(0, size - width + 1))
    mask = np.zeros((size, size), np.float32)
    mask[top : top + height, left : left + width] = 1.0
    return mask


def pluralistic_regular_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """PIC-Net's mask type 1 (util/task.py random_regular_mask): N ~ U{1..5} rectangles, each
    corner in [0, S - S/(N+1)]², each extent uniform in [S/(N+7), S - corner]."""
    mask = np.zeros((size, size), np.float32)
    count = int(rng.integers(1, 6))
    limit = int(size - size / (count + 1))
    for _ in range(count):
        top, left = (int(v) for v in rng.integers(0, limit + 1, size=2))
        height = int(rng.integers(int(size / (count + 7)), size - top + 1))
        width = int(rng.integers(int(size / (count + 7)), size - left + 1))
        mask[top : top + height, left : left + width] = 1.0
    return mask


def pluralistic_irregular_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """PIC-Net's mask type 2 (util/task.py random_irregular_mask): 16-64 shapes, each a line
    (p 0.6), a filled circle (p 0.2) or a rotated ellipse arc (p 0.2), thickness and radius
    4-20 px at 256 (scaled with the size), ends, centres and ellipse axes anywhere up to S."""
    # departure: drawn with Pillow (round-capped lines, arcs as 1-degree polylines), not cv2.
    scale = size / 256
    low, high = max(1, round(4 * scale)), max(1, round(20 * scale))
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(16, 65))):
        kind = rng.random()
        if kind < 0.6:
            x1, y1, x2, y2 = (int(v) for v in rng.integers(1, size + 1, size=4))
            width = int(rng.integers(low, high + 1))
            draw.line((x1, y1, x2, y2), fill=255, width=width)
            for x, y in ((x1, y1), (x2, y2)):
                draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
        elif kind < 0.8:
            x, y = (int(v) for v in rng.integers(1, size + 1, size=2))
            radius = int(rng.integers(low, high + 1))
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
        else:
            x, y, axis_x, axis_y = (int(v) for v in rng.integers(1, size + 1, size=4))
            turn, start, end = (float(v) for v in rng.integers(3, 181, size=3))
            width = int(rng.integers(low, high + 1))
            t = np.deg2rad(np.arange(min(start, end), max(start, end) + 1.0))
            r = np.deg2rad(turn)
            xs = x + axis_x * np.cos(t) * np.cos(r) - axis_y * np.sin(t) * np.sin(r)
            ys = y + axis_x * np.cos(t) * np.sin(r) + axis_y * np.sin(t) * np.cos(r)
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=255, width=width, joint="curve")
    return (np.asarray(image) > 0).astype(np.float32)


def training_mask(kind: str, size: int, rng: np.random.Generator, augment: bool = False) -> np.ndarray:
    """A training mask: 'square' (PEN-Net), 'irregular' (our generator), 'mixed' (50/50),
    'rectangle' (GLCIC's one rectangle) or 'pluralistic' (PIC-Net's default mask types 1 and 2,
    one drawn uniformly per sample)."""
    if kind == "mixed":
        kind = "square" if rng.random() < 0.5 else "irregular"
    if kind == "square":
        mask = random_square_mask(size, rng)
    elif kind == "irregular":
        mask = irregular_mask(size, rng)
    elif kind == "rectangle":
        mask = rectangle_mask(size, rng)
    elif kind == "pluralistic":
        generator = pluralistic_regular_mask if rng.random() < 0.5 else pluralistic_irregular_mask
        mask = generator(size, rng)
    else:
        raise MaskError(f"training mask kind {kind!r} is unknown; use one of {', '.join(TRAINING_KINDS)}")
    return rotate_dilate_augment(mask, rng) if augment else mask


@dataclass
class MaskSet:
    """A fixed, ordered test set of masks: image i is paired with mask i (mod len)."""

    setting: str
    bucket: str
    ids: list[str]
    load: Callable[[int], np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray]:
        j = i % len(self.ids)
        return self.ids[j], self.load(j)


def to_size(image: Image.Image, size: int) -> np.ndarray:
    """A mask image (> 0 = hole) as the harness's float mask, resized with nearest neighbour to size × size."""
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.NEAREST)
    # departure: grey (anti-aliased) pixels of a mask file count as hole when > 0; PEN-Net's loader uses the grey values as they are (a soft mask in [0, 1]).
    return (np.asarray(image) > 0).astype(np.float32)


def read_mask_png(path: Path, size: int) -> np.ndarray:
    """A mask PNG with white (> 0) = hole, resized with nearest neighbour to size × size."""
    try:
        with Image.open(path) as image:
            return to_size(image.convert("L"), size)
    except OSError as error:
        raise MaskError(f"{path}: cannot read mask ({error})") from None


def find_nvidia_masks(folder: Path) -> Path:
    """The folder holding 00000.png … 11999.png (the zip unpacks to mask/testing_mask_dataset)."""
    folder = Path(folder)
    for candidate in (folder, folder / "testing_mask_dataset", folder / "mask" / "testing_mask_dataset"):
        if candidate.is_dir() and next(candidate.glob("[0-9][0-9][0-9][0-9][0-9].png"), None):
            return candidate
    raise MaskError(
        f"{folder}: no NVIDIA irregular test masks found; expected 00000.png … 11999.png in it "
        "or in testing_mask_dataset/ or mask/testing_mask_dataset/ (test_mask.zip unpacked)"
    )


def nvidia_masks(folder: Path, bucket: int, size: int) -> MaskSet:
    """Bucket b of the NVIDIA test set: files b·2000 … b·2000+1999, white = hole."""
    root = find_nvidia_masks(folder)
    first = bucket * NVIDIA_MASKS_PER_BUCKET
    paths = [root / f"{i:05d}.png" for i in range(first, first + NVIDIA_MASKS_PER_BUCKET)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise MaskError(
            f"{root}: {len(missing)} mask file(s) of bucket {BUCKET_LABELS[bucket]} are missing "
            f"(first: {', '.join(missing[:3])})"
        )
    return MaskSet("irregular", BUCKET_LABELS[bucket], [f"nvidia-{p.stem}" for p in paths],
                   lambda j: read_mask_png(paths[j], size))


def generated_mask(size: int, bucket: int, seed: int, index: int) -> np.ndarray:
    return irregular_mask(size, np.random.default_rng([seed, bucket, index]), bucket)


def generated_masks(bucket: int, size: int, count: int, seed: int) -> MaskSet:
    ids = [f"gen-s{seed}-b{bucket}-{i:05d}" for i in range(count)]
    return MaskSet("irregular", BUCKET_LABELS[bucket], ids, lambda j: generated_mask(size, bucket, seed, j))


def family_native_mask(family: str, seed: int, index: int) -> np.ndarray:
    """Mask `index` of a family at its native size (uint8, 255 = hole): a pure function of the seed,
    the family's name and the index."""
    entropy = [seed, int.from_bytes(hashlib.sha256(family.encode()).digest()[:4], "big"), index]
    rng = np.random.RandomState(np.random.SeedSequence(entropy).generate_state(1)[0])
    return mask_families.family_mask(family, rng).astype(np.uint8) * 255


def check_family_size(family: str, size: int) -> None:
    """A family's masks are only resized down: refuse a working size above its native size."""
    native = mask_families.native_size(family)
    if size > native:
        others = [n for n in mask_families.FAMILIES if n.rsplit("-", 1)[0] == family.rsplit("-", 1)[0]
                  and mask_families.native_size(n) >= size]
        raise MaskError(f"mask setting {family}: its masks are drawn at {native}×{native} and only resized "
                        f"down, the working size is {size}" + (f"; use {others[0]}" if others else ""))


def family_masks(family: str, size: int, count: int, seed: int) -> MaskSet:
    """`count` masks of a family, drawn at its native size, resized with nearest neighbour to `size`."""
    check_family_size(family, size)
    ids = [f"{family}-s{seed}-{i:05d}" for i in range(count)]
    return MaskSet(family, "all", ids,
                   lambda j: to_size(Image.fromarray(family_native_mask(family, seed, j)), size))


def family_source(family: str, mask_dir: str | Path | None) -> str:
    """What a family setting's masks are, for protocol.json: the seeded generator's description,
    or the fixed set in `mask_dir` with its params.txt (`source=mat`: MAT's own released masks)."""
    if mask_dir is None:
        return mask_families.describe(family)
    params = Path(mask_dir) / "params.txt"
    made = params.read_text().strip() if params.is_file() else "no params.txt"
    return f"{family}: the fixed mask set in {mask_dir} ({made})"


MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "bucket", "ratio", "sha256")
MANIFEST_FIX = "remake the set with `inpaint-bench masks make` into a new folder"


def manifest_rows(manifest: Path) -> list[dict[str, str]]:
    """The rows of a set's manifest.csv, read through the one CSV reader (bench.records.reading):
    a damaged file is one line naming it."""
    return reading.csv_rows(manifest, MANIFEST_COLUMNS, MANIFEST_FIX)


def made_masks(folder: Path, bucket: int | str, size: int, count: int = 0) -> MaskSet:
    """Bucket b (or the family named `bucket`) of a test set written by `masks make` or `masks
    import`, checked against its manifest: as many masks as the set was made with (params.txt) and
    at least `count` (one per test image), and every file's sha256 (here, before evaluation
    starts). Masks imported from MAT's released files have ids that say so (mask_families.is_released)."""
    group = bucket if isinstance(bucket, str) else BUCKET_LABELS[bucket]
    what = f"mask setting {group}" if isinstance(bucket, str) else f"bucket {group}"
    manifest = Path(folder) / MANIFEST
    if not manifest.is_file():
        raise MaskError(f"{folder}: no {MANIFEST}; write a mask set with `inpaint-bench masks make`")
    rows = [r for r in manifest_rows(manifest) if r["bucket"] == group]
    if not rows:
        raise MaskError(f"{manifest}: no masks for {what}")
    made = _made_count(Path(folder))
    if made is not None and len(rows) != made:
        raise MaskError(f"{manifest}: lists {len(rows)} masks for {what}, "
                        f"but the set was made with count={made} (params.txt); the manifest was "
                        "cut or edited — remake the set with `inpaint-bench masks make`")
    if len(rows) < count:
        raise MaskError(f"{manifest}: {len(rows)} masks for {what}, fewer "
                        f"than the {count} test images (each image needs its own mask); make a "
                        f"set with --count {count} or more")
    paths = [Path(folder) / r["file"] for r in rows]
    for path, row in zip(paths, rows):
        verify_mask_file(path, row["sha256"])
    ids = [Path(r["file"]).stem for r in rows]
    if isinstance(bucket, str):
        check_family_size(bucket, size)
        if _made_params(Path(folder)).get("source") == "mat":  # imported by bench.data.mask_import
            ids = [mask_families.released_id(bucket, j) for j in range(len(rows))]
    return MaskSet(bucket if isinstance(bucket, str) else "irregular", "all" if isinstance(bucket, str) else group,
                   ids, lambda j: read_mask_png(paths[j], size))


def _made_params(folder: Path) -> dict[str, str]:
    """The key=value fields of a mask set's params.txt ({} without one)."""
    params = folder / "params.txt"
    if not params.is_file():
        return {}
    return dict(item.split("=", 1) for item in params.read_text().split() if "=" in item)


def _made_count(folder: Path) -> int | None:
    """The per-bucket count a `masks make` set was written with (None without params.txt)."""
    count = _made_params(folder).get("count", "")
    return int(count) if count.isdigit() else None


def verify_mask_file(path: Path, expected_sha256: str) -> None:
    """Check a mask file's sha256 against the manifest's."""
    try:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise MaskError(f"{path}: cannot read mask ({error.strerror or error})") from None
    if actual != expected_sha256:
        raise MaskError(f"{path}: sha256 {actual[:12]}… differs from {expected_sha256[:12]}… in "
                        f"{MANIFEST}; the mask was changed after `masks make` — restore it or "
                        "remake the set")


def test_masks(setting: str, size: int, *, bucket: str | int | None = None, count: int,
               seed: int = 0, nvidia_dir: Path | None = None, mask_dir: Path | None = None) -> MaskSet:
    """The fixed test masks of one evaluation setting: 'center', 'irregular' with a bucket, or a
    mask family (bench.data.mask_families).

    Irregular masks come from `nvidia_dir` (the NVIDIA set), else `mask_dir` (a set written by
    `masks make`), else the seeded generator (`count` masks, ids naming seed, bucket and index);
    a family's from `mask_dir`, else its seeded generator.
    """
    if setting == "center":
        mask = center_mask(size)
        return MaskSet("center", "all", ["center"], lambda j: mask)
    if setting in mask_families.FAMILIES:
        return made_masks(mask_dir, setting, size, count) if mask_dir else family_masks(setting, size, count, seed)
    if setting != "irregular":
        raise MaskError(f"mask setting {setting!r} is unknown; use 'center', 'irregular' or one of "
                        f"{', '.join(mask_families.FAMILIES)}")
    if bucket is None:
        raise MaskError("irregular test masks need a bucket")
    b = bucket_index(bucket) if isinstance(bucket, str) else int(bucket)
    if nvidia_dir is not None:
        return nvidia_masks(nvidia_dir, b, size)
    if mask_dir is not None:
        return made_masks(mask_dir, b, size, count)
    return generated_masks(b, size, count, seed)


def _png_bytes(mask: np.ndarray) -> bytes:
    """A uint8 mask (255 = hole) as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def make_mask_set(out_dir: Path, size: int, count: int, seed: int = 0,
                  sets: tuple[str, ...] = ("irregular",)) -> Path:
    """Write `count` generated masks per bucket ('irregular' in `sets`) and per mask family named
    in `sets` (at the family's native size, whatever `size`) as PNGs plus a manifest (ratio,
    sha256 each).

    Idempotent: an existing set made with the same size, count, seed and sets is kept; a
    different one is an error (a test set is never silently replaced).
    """
    for option, value in (("--size", size), ("--count", count)):
        if value < 1:
            raise MaskError(f"{option} {value}: must be a positive whole number")
    unknown = [name for name in sets if name != "irregular" and name not in mask_families.FAMILIES]
    if unknown or not sets:
        raise MaskError(f"--sets {','.join(sets)}: {', '.join(unknown) or 'empty'} unknown; use irregular "
                        f"and/or {', '.join(mask_families.FAMILIES)}")
    wanted = f"size={size} count={count} seed={seed}" + ("" if sets == ("irregular",) else f" sets={','.join(sets)}")
    groups = [(f"b{b}", label, count, lambda i, b=b: (generated_mask(size, b, seed, i) * 255).astype(np.uint8))
              for b, label in enumerate(BUCKET_LABELS) if "irregular" in sets]
    groups += [(name, name, count, lambda i, name=name: family_native_mask(name, seed, i))
               for name in sets if name in mask_families.FAMILIES]
    return write_mask_set(out_dir, wanted, groups)


MaskGroup = tuple[str, str, int, Callable[[int], np.ndarray]]
"""(folder, bucket column, count, index → uint8 mask with 255 = hole) of one part of a mask set."""


def write_mask_set(out_dir: Path, params_text: str, groups: list[MaskGroup]) -> Path:
    """Write each group's masks as `<folder>/<index>.png` plus manifest.csv (file, bucket,
    ratio, sha256) and params.txt; the manifest last, atomically, so a set without one is
    unfinished. An existing set with the same params.txt is kept, another one is an error."""
    out_dir = Path(out_dir)
    manifest = out_dir / MANIFEST
    params = out_dir / "params.txt"
    wanted = params_text + "\n"
    if manifest.is_file():
        if params.is_file() and params.read_text() == wanted:
            manifest_rows(manifest)  # kept only if it reads
            return manifest
        raise MaskError(f"{out_dir}: holds another mask set ({params.read_text().strip() if params.is_file() else 'unknown'}); choose a new folder")
    created = [p for p in (*(out_dir / g[0] for g in groups), out_dir, *out_dir.parents) if not p.exists()]
    rows = []
    try:
        for folder, label, count, draw in groups:
            (out_dir / folder).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                mask = draw(i)
                data = _png_bytes(mask)
                name = f"{folder}/{i:05d}.png"
                (out_dir / name).write_bytes(data)
                rows.append({"file": name, "bucket": label, "ratio": f"{hole_ratio(mask):.6f}",
                             "sha256": hashlib.sha256(data).hexdigest()})
    except MaskError:  # a bucket that cannot be filled, a file that cannot be read: remove what this call made
        for folder in created:  # bucket folders first, then the (now empty) folders above them
            shutil.rmtree(folder, ignore_errors=True)
        raise
    params.write_text(wanted)
    tmp = manifest.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, manifest)
    return manifest
