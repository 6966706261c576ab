"""The authors' training-mask kinds: GLCIC's one rectangle and PIC-Net's mask types 1 and 2."""

import numpy as np
import pytest

from bench.data import masks


def _box(mask):
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


@pytest.mark.parametrize("size", [64, 256])
def test_glcic_hole_is_one_rectangle_of_96_to_128_px_at_256_scaled(size):
    lo, hi = (round(s * size / 256) for s in masks.GLCIC_HOLE_SIDES)
    heights, widths = set(), set()
    for seed in range(60):
        mask = masks.training_mask("rectangle", size, np.random.default_rng(seed))
        assert mask.shape == (size, size) and mask.dtype == np.float32
        top, bottom, left, right = _box(mask)
        assert mask[top:bottom, left:right].all()  # the box is filled: one rectangle
        assert mask.sum() == (bottom - top) * (right - left)
        assert lo <= bottom - top <= hi and lo <= right - left <= hi
        heights.add(bottom - top)
        widths.add(right - left)
    assert min(heights) < hi and max(heights) > lo and len(widths) > 3  # spread over the range


def test_glcic_uses_the_papers_sides_not_the_references():
    assert masks.GLCIC_HOLE_SIDES == (96, 128)


def test_pluralistic_regular_holes_follow_their_rules():
    size = 256
    for seed in range(40):
        mask = masks.pluralistic_regular_mask(size, np.random.default_rng(seed))
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert mask.any()
        # no rectangle smaller than S/(5+7) = 21 px on a side (at most 5 rectangles)
        top, bottom, left, right = _box(mask)
        assert bottom - top >= size // 12 and right - left >= size // 12
        assert _diagonal_pairs(mask) == 0  # axis-aligned rectangles only


def test_pluralistic_irregular_is_free_form_with_widths_scaled():
    ratios = []
    for seed in range(20):
        mask = masks.pluralistic_irregular_mask(64, np.random.default_rng(seed))
        assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0.0, 1.0}
        ratios.append(masks.hole_ratio(mask))
        assert _diagonal_pairs(mask) > 0  # slanted strokes
    assert 0 < min(ratios) and max(ratios) < 1 and len(set(ratios)) == len(ratios)
    big = np.mean([masks.hole_ratio(masks.pluralistic_irregular_mask(256, np.random.default_rng(s)))
                   for s in range(10)])
    assert abs(big - np.mean(ratios)) < 0.15  # scaled with the size: similar coverage


def _diagonal_pairs(mask):
    """2x2 windows holding exactly two holes on a diagonal: slanted edges (strokes) have them,
    axis-aligned rectangles (PIC-Net's type 1) have none unless two corners touch."""
    a = mask.astype(int)
    window = a[:-1, :-1] + 2 * a[1:, 1:] + 4 * a[:-1, 1:] + 8 * a[1:, :-1]
    return int(np.isin(window, (3, 12)).sum())


def test_pluralistic_draws_both_types_and_is_seeded():
    kinds = []
    for seed in range(30):
        a = masks.training_mask("pluralistic", 64, np.random.default_rng(seed))
        assert np.array_equal(a, masks.training_mask("pluralistic", 64, np.random.default_rng(seed)))
        kinds.append(_diagonal_pairs(a) > 0)
    assert 5 < sum(kinds) < 25  # about half free-form, half rectangles
    assert not np.array_equal(masks.training_mask("pluralistic", 64, np.random.default_rng(998)),
                              masks.training_mask("pluralistic", 64, np.random.default_rng(999)))


def test_unknown_kind_names_the_kinds():
    with pytest.raises(masks.MaskError, match="pluralistic"):
        masks.training_mask("nope", 64, np.random.default_rng(0))
