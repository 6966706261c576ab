"""The training-view options: resize-then-random-crop and random rotation (data config keys)."""

import numpy as np
import pytest
import torch
from PIL import Image

from bench import config as config_module
from bench import train
from bench.data import augment, datasets


def test_load_side_scales_with_the_working_size():
    assert augment.load_side(266, 256) == 266
    assert augment.load_side(266, 64) == 66  # 66.5 rounds to even
    assert augment.load_side(266, 128) == 133


def test_random_crop_is_a_window_of_the_resized_image():
    pixels = np.random.default_rng(0).integers(0, 256, (70, 70, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    offsets = set()
    for seed in range(20):
        crop = np.asarray(augment.random_crop(image, 64, np.random.default_rng(seed)))
        assert crop.shape == (64, 64, 3)
        found = [(t, l) for t in range(7) for l in range(7) if np.array_equal(pixels[t:t + 64, l:l + 64], crop)]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 5


def test_rotation_stays_within_its_degrees_and_blackens_corners():
    white = Image.new("RGB", (64, 64), (255, 255, 255))
    rotated = [np.asarray(augment.random_rotation(white, 3, np.random.default_rng(s))) for s in range(10)]
    for out in rotated:
        assert out.shape == (64, 64, 3)
        assert (out[30:34, 30:34] == 255).all()  # the centre stays
        # at most 3°: a corner loses at most tan(3°)·64 ≈ 3.4 px along each edge
        assert (out[8:56, 8:56] == 255).all()
    assert any((out[0, 0] == 0).all() for out in rotated)  # some rotation shows black corners
    assert len({out.tobytes() for out in rotated}) > 5
    big = np.asarray(augment.random_rotation(white, 45, np.random.default_rng(1)))
    assert (big == 0).sum() > (rotated[0] == 0).sum()


def test_train_item_off_is_the_datasets_own_view():
    ds = datasets.open_dataset("sample", "train", size=32)
    a = augment.train_item(ds, 3, np.random.default_rng(7), resize_crop=None, rotation=0)
    b = ds.augmented(3, np.random.default_rng(7))
    assert torch.equal(a["image"], b["image"]) and a["id"] == b["id"]


def test_resize_crop_and_rotation_in_the_seeded_stream():
    ds = datasets.open_dataset("sample", "train", size=64)
    plain = train.TrainStream(ds, seed=1, mask_kind="pluralistic")
    authors = train.TrainStream(ds, seed=1, mask_kind="pluralistic", resize_crop=266, rotation=3)
    again = train.TrainStream(ds, seed=1, mask_kind="pluralistic", resize_crop=266, rotation=3)
    for g in range(4):
        image, mask, _ = authors[g]
        assert image.shape == (3, 64, 64) and mask.shape == (1, 64, 64)
        assert image.min() >= -1 and image.max() <= 1
        assert torch.equal(image, again[g][0]) and torch.equal(mask, again[g][1])
        assert not torch.equal(image, plain[g][0])


def test_the_keys_are_checked():
    config = config_module.from_dict({"data": {"train_resize_crop": 266, "train_rotation": 3,
                                               "train_masks": "rectangle"}})
    assert (config.data.train_resize_crop, config.data.train_rotation) == (266, 3)
    with pytest.raises(config_module.ConfigError, match="data.train_resize_crop.*at least 256"):
        config_module.from_dict({"data": {"train_resize_crop": 200}})
    with pytest.raises(config_module.ConfigError, match="data.train_rotation"):
        config_module.from_dict({"data": {"train_rotation": -1}})


def test_zoomed_sample_crops_come_from_the_train_half_at_a_drawn_zoom():
    """data.train_zoom: each crop is a window of the source's train half scaled for size·zoom
    (never a test-half pixel), zooms 1…N are all drawn, and zoom 1 is the unzoomed stream."""
    from bench.data import sample

    dataset = datasets.open_dataset("sample", "train", size=64)
    i = dataset.ids.index("face-astronaut")
    region = dataset.regions[i]
    zooms = set()
    for seed in range(12):
        item = augment.train_item(dataset, i, np.random.default_rng(seed), resize_crop=None, rotation=0, zoom=3)
        crop = ((item["image"].numpy().transpose(1, 2, 0) + 1) / 2 * 255).round().astype(np.uint8)
        matches = []
        for zoom in (1, 2, 3):
            train_half = sample.halves(region.source, region.domain, 64 * zoom)[0]
            left, top, width, height = train_half.box
            pixels = np.asarray(sample.scaled_source(region.source, 64 * zoom))[top:top + height, left:left + width]
            rows = np.lib.stride_tricks.sliding_window_view(pixels, (64, 3), axis=(1, 2))[:height - 63, :, 0]
            for view in (crop, crop[:, ::-1]):  # candidates by the first row, then the whole window
                first = np.abs(rows.astype(int) - view[0].astype(int)).max(axis=(2, 3)) <= 1
                matches += [zoom for y, x in zip(*np.nonzero(first))
                            if np.abs(pixels[y:y + 64, x:x + 64].astype(int) - view).max() <= 1]
        assert matches, f"seed {seed}: the crop is no window of the train half at any zoom"
        zooms.update(matches)
    assert zooms == {1, 2, 3}
    plain = train.TrainStream(dataset, seed=0, mask_kind="square")
    same = train.TrainStream(dataset, seed=0, mask_kind="square", zoom=1)
    assert all(torch.equal(plain[g][0], same[g][0]) for g in range(4))
