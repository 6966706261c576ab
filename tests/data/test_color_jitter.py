"""PEN-Net's ColorJitter(0.05, 0.05, 0.05, 0.05): its factor ranges, hue semantics, and its place
in the seeded training stream."""

import numpy as np
import torch
from PIL import Image

from bench import train
from bench.data import datasets
from bench.data.images import _shift_hue, color_jitter, to_image, to_tensor


def test_to_image_undoes_to_tensor():
    pixels = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(to_image(to_tensor(pixels))), pixels)


def test_a_grey_image_only_changes_brightness_within_five_percent():
    grey = Image.new("RGB", (8, 8), (200, 200, 200))
    values = set()
    for seed in range(40):
        out = np.asarray(color_jitter(grey, 0.05, np.random.default_rng(seed)))
        assert (out == out[0, 0, 0]).all()  # still one grey: contrast, saturation, hue keep it
        values.add(int(out[0, 0, 0]))
    assert min(values) >= int(200 * 0.95) and max(values) <= 210
    assert len(values) > 5 and min(values) < 200 < max(values)


def test_hue_shift_turns_around_the_colour_circle():
    red = Image.new("RGB", (2, 2), (255, 0, 0))
    assert np.asarray(_shift_hue(red, 1 / 3))[0, 0].argmax() == 1  # a third of a turn: green
    assert np.asarray(_shift_hue(red, -1 / 3))[0, 0].argmax() == 2  # back a third: blue


def test_jitter_is_seeded_small_and_leaves_the_masks_alone():
    ds = datasets.open_dataset("sample", "train", size=32)
    plain = train.TrainStream(ds, seed=1, mask_kind="mixed", mask_augment=True)
    jittered = train.TrainStream(ds, seed=1, mask_kind="mixed", mask_augment=True, color_jitter=True)
    changed = 0
    for g in range(6):
        (a, mask_a, _), (b, mask_b, _) = plain[g], jittered[g]
        assert torch.equal(mask_a, mask_b)
        assert torch.equal(b, jittered[g][0])
        assert (a - b).abs().mean() < 0.1
        changed += not torch.equal(a, b)
    assert changed == 6
