"""`masks import KIND DIR --out OUT`: published mask files as the checksummed mask set the harness
reads with data.mask_dir (bench.data.masks.made_masks), every file checked before anything is
written.

- `nvidia`: the NVIDIA irregular-mask test set (Liu et al. 2018; test_mask.zip, licence
  CC BY-NC-SA 4.0): 12,000 PNGs 00000.png … 11999.png at 512×512, white = hole. The convention
  assumed (as PEN-Net's and this harness's NVIDIA reader): file k belongs to hole-ratio bucket
  k // 2000 of BUCKETS, each bucket's 2,000 masks in index order. The import records each
  mask's measured ratio and says how many lie outside the bucket their index gives.
- `mat`: MAT's released evaluation masks (CelebA-HQ-val, Places-val; 0 = hole, 255 = kept), one
  PNG per test image, paired with the images by sorted file name (MAT's dataset_512_val.py pairs
  sorted(glob('*.png')) with its sorted image names); written as the mask setting named by
  `--setting` (mat-small-512 or mat-large-512), white = hole as everywhere in the harness.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data import mask_families
from bench.data.masks import (BUCKET_LABELS, NVIDIA_MASKS_PER_BUCKET, MaskError, bucket_index, find_nvidia_masks,
                              in_bucket, write_mask_set)

KINDS = ("nvidia", "mat")
NVIDIA_LICENCE = "CC BY-NC-SA 4.0"
NVIDIA_SIZE = 512
MODES = ("1", "L", "P", "RGB")  # a grey or colour image; alpha, 16-bit and float masks are refused


def check_files(paths: Sequence[Path], size: int, what: str) -> None:
    """Every file a readable PNG of size × size in one of MODES, else the first bad one named."""
    for path in paths:
        try:
            with Image.open(path) as image:
                found, mode = image.size, image.mode
        except OSError as error:
            raise MaskError(f"{path}: cannot read mask ({error})") from None
        if found != (size, size):
            raise MaskError(f"{path}: {found[0]}×{found[1]}, {what} masks are {size}×{size}")
        if mode not in MODES:
            raise MaskError(f"{path}: mode {mode}, expected a grey mask image (mode {', '.join(MODES)})")


def grey(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def import_nvidia(src: Path, out: Path, per_bucket: int = NVIDIA_MASKS_PER_BUCKET) -> tuple[Path, int]:
    """The NVIDIA test set at `src` as a mask set at `out` (b0 … b5, by index); returns its
    manifest and how many masks' measured hole ratio lies outside their index's bucket.
    `per_bucket` is 2,000 (tests use fewer)."""
    root = find_nvidia_masks(Path(src))
    total = per_bucket * len(BUCKET_LABELS)
    paths = [root / f"{k:05d}.png" for k in range(total)]
    found = sorted(p.name for p in root.glob("*.png"))
    missing = [p.name for p in paths if not p.is_file()]
    extra = sorted(set(found) - {p.name for p in paths})
    if missing or extra:
        detail = "; ".join(f"{what} {', '.join(names[:3])}"
                           for what, names in (("missing", missing), ("unexpected", extra)) if names)
        raise MaskError(f"{root}: {len(found)} PNG files, the NVIDIA test set has {total} "
                        f"({paths[0].name} … {paths[-1].name}); {detail}")
    check_files(paths, NVIDIA_SIZE, "the NVIDIA test")
    params = (f"source=nvidia count={per_bucket} size={NVIDIA_SIZE} licence={NVIDIA_LICENCE.replace(' ', '_')} "
              f"convention=file_k_in_bucket_k//{per_bucket}")
    groups = [(f"b{b}", label, per_bucket,
               lambda i, b=b: (grey(paths[b * per_bucket + i]) > 0).astype(np.uint8) * 255)
              for b, label in enumerate(BUCKET_LABELS)]
    manifest = write_mask_set(Path(out), params, groups)
    with manifest.open(newline="") as handle:
        outside = sum(not in_bucket(float(r["ratio"]), bucket_index(r["bucket"])) for r in csv.DictReader(handle))
    return manifest, outside


def import_mat(src: Path, out: Path, setting: str, count: int, size: int = 512) -> Path:
    """MAT's released masks in `src` (PNG files, 0 = hole) as mask setting `setting` at `out`,
    mask i the i-th file by sorted name; `count` is the number of test images they pair with."""
    if setting not in mask_families.FAMILIES or not setting.startswith("mat-"):
        raise MaskError(f"--setting {setting!r}: MAT's masks are mat-small-512 or mat-large-512")
    paths = sorted(Path(src).glob("*.png"))
    if len(paths) != count:
        raise MaskError(f"{src}: {len(paths)} PNG files, expected {count} (--count: one mask per test image, "
                        "paired by sorted name)")
    check_files(paths, size, "MAT's evaluation")
    # departure: a grey pixel counts as hole when below 255 (MAT's loader keeps it as a soft value)
    groups = [(setting, setting, count, lambda i: (grey(paths[i]) < 255).astype(np.uint8) * 255)]
    return write_mask_set(Path(out), f"source=mat count={count} size={size} setting={setting} pairing=sorted_name",
                          groups)
