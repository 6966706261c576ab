"""Masks: bucket ratios, determinism, the centre square, the NVIDIA loader, `masks make`."""

import csv
import hashlib

import numpy as np
import pytest
from PIL import Image

from bench.data import masks as M


@pytest.mark.parametrize("size", [64, 256])
@pytest.mark.parametrize("bucket", range(6))
def test_generated_masks_lie_in_their_bucket(size, bucket):
    for i in range(40):
        mask = M.generated_mask(size, bucket, seed=3, index=i)
        assert mask.shape == (size, size) and mask.dtype == np.float32
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert M.in_bucket(M.hole_ratio(mask), bucket), (bucket, M.hole_ratio(mask))


def test_generated_masks_spread_over_the_bucket():
    ratios = [M.hole_ratio(M.generated_mask(128, 3, 0, i)) for i in range(60)]
    assert min(ratios) < 0.33 and max(ratios) > 0.37  # not piled against the lower bound


def test_same_seed_same_bytes_other_seed_other_mask():
    a = M.generated_mask(128, 2, seed=7, index=5)
    b = M.generated_mask(128, 2, seed=7, index=5)
    c = M.generated_mask(128, 2, seed=8, index=5)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_bucket_edges():
    assert M.in_bucket(0.01, 0) and M.in_bucket(0.1, 0) and not M.in_bucket(0.1, 1)
    assert M.in_bucket(0.6, 5) and not M.in_bucket(0.61, 5) and not M.in_bucket(0.009, 0)


def test_center_mask_is_the_central_half_square():
    mask = M.center_mask(256)
    assert mask.sum() == 128 * 128
    assert mask[64:192, 64:192].all() and mask[63, 100] == 0 and mask[192, 100] == 0


def test_training_masks():
    rng = np.random.default_rng(0)
    for _ in range(20):
        square = M.training_mask("square", 64, rng)
        assert square.sum() == 32 * 32
        rows, cols = np.nonzero(square)
        assert rows.max() - rows.min() == 31 and cols.max() - cols.min() == 31
        augmented = M.training_mask("mixed", 64, rng, augment=True)
        assert set(np.unique(augmented)) <= {0.0, 1.0} and augmented.any()
    with pytest.raises(M.MaskError, match="'stripes'"):
        M.training_mask("stripes", 64, rng)


def test_test_masks_pair_image_i_with_mask_i():
    ms = M.test_masks("irregular", 64, bucket="(0.2,0.3]", count=5, seed=1)
    assert len(ms) == 5
    first_id, first = ms[0]
    again_id, again = ms[5]  # wraps around
    assert first_id == again_id and np.array_equal(first, again)
    assert np.array_equal(first, M.generated_mask(64, 2, 1, 0))
    center = M.test_masks("center", 64, count=3)
    assert center[2][0] == "center" and center[2][1].sum() == 32 * 32
    with pytest.raises(M.MaskError, match="bucket"):
        M.test_masks("irregular", 64, count=3)
    with pytest.raises(M.MaskError, match="unknown bucket"):
        M.test_masks("irregular", 64, bucket="(0.6,0.7]", count=3)


def _write_nvidia_bucket(folder, bucket, size=32):
    folder.mkdir(parents=True)
    first = bucket * M.NVIDIA_MASKS_PER_BUCKET
    for i in range(first, first + M.NVIDIA_MASKS_PER_BUCKET):
        array = np.zeros((size, size), np.uint8)
        array[: (i % 16) + 1, :] = 255  # white = hole; (k+1)/32 of the rows
        Image.fromarray(array).save(folder / f"{i:05d}.png")


def test_nvidia_loader_polarity_buckets_and_resize(tmp_path):
    root = tmp_path / "mask" / "testing_mask_dataset"
    _write_nvidia_bucket(root, bucket=1)
    ms = M.test_masks("irregular", 64, bucket=1, count=0, nvidia_dir=tmp_path)
    assert len(ms) == 2000 and ms.bucket == "(0.1,0.2]"
    mask_id, mask = ms[3]
    assert mask_id == "nvidia-02003"
    assert mask.shape == (64, 64)  # nearest resize from 32²
    # file 2003: rows 0..(2003 % 16) white → holes, the rest black → known
    assert mask[: 2 * (2003 % 16 + 1)].all() and not mask[2 * (2003 % 16 + 1) :].any()
    assert M.hole_ratio(mask) == pytest.approx((2003 % 16 + 1) / 32)
    with pytest.raises(M.MaskError, match="bucket \\[0.01,0.1\\]"):
        M.test_masks("irregular", 64, bucket=0, count=0, nvidia_dir=tmp_path)


def test_nvidia_loader_names_an_empty_folder(tmp_path):
    with pytest.raises(M.MaskError, match=str(tmp_path)):
        M.find_nvidia_masks(tmp_path)


def test_make_mask_set_manifest_and_idempotence(tmp_path):
    out = tmp_path / "masks"
    manifest = M.make_mask_set(out, size=64, count=3, seed=4)
    rows = list(csv.DictReader(manifest.open()))
    assert len(rows) == 18
    for row in rows:
        data = (out / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        b = M.BUCKET_LABELS.index(row["bucket"])
        assert M.in_bucket(float(row["ratio"]), b)
    loaded = M.test_masks("irregular", 64, bucket=2, count=0, mask_dir=out)
    assert np.array_equal(loaded[1][1], M.generated_mask(64, 2, 4, 1))
    before = manifest.read_bytes()
    M.make_mask_set(out, size=64, count=3, seed=4)  # same set: kept as it is
    assert manifest.read_bytes() == before
    with pytest.raises(M.MaskError, match="another mask set"):
        M.make_mask_set(out, size=64, count=3, seed=5)
