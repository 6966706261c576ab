"""Datasets: the embedded sample set, real layouts, splits, image modes and clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data import datasets as D
from bench.data import sample, splits
from bench.data.images import ImageReadError


def test_sample_set_domains_shapes_and_range():
    train = D.open_dataset("sample", "train", size=64)
    test = D.open_dataset("sample", "test", size=64)
    assert len(train) == 12 and len(test) == 24
    assert set(test.domains) == {"texture", "facade", "face", "scene"}
    item = test[0]
    assert item["image"].shape == (3, 64, 64)
    assert -1.0 <= item["image"].min() and item["image"].max() <= 1.0
    assert len(set(test.ids)) == len(test)


def test_sample_train_and_test_share_no_pixel():
    for domain, (_, sources) in sample.DOMAINS.items():
        for source in sources:
            train, test = sample.halves(source, domain, 64)
            tl, tt, tw, th = train.box
            sl, st, sw, sh = test.box
            overlap_w = min(tl + tw, sl + sw) - max(tl, sl)
            overlap_h = min(tt + th, st + sh) - max(tt, st)
            assert overlap_w <= 0 or overlap_h <= 0, source
            for x, y in sample.test_crop_offsets(test, 64):
                assert 0 <= x <= sw - 64 and 0 <= y <= sh - 64


def test_training_view_is_seeded():
    train = D.open_dataset("sample", "train", size=64)
    a = train.augmented(3, np.random.default_rng([1, 2]))["image"]
    b = train.augmented(3, np.random.default_rng([1, 2]))["image"]
    c = train.augmented(3, np.random.default_rng([1, 3]))["image"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def _save(path, mode, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        Image.fromarray((np.arange(size[0] * size[1]).reshape(size[1], size[0]) * 50).astype(np.uint16)).save(path)
    else:
        Image.new(mode, size, 120 if mode in ("L", "P") else (200, 10, 30, 128)[: len(mode)]).save(path)


@pytest.fixture
def dtd_root(tmp_path):
    root = tmp_path / "dtd_root"
    for category in ("banded", "woven"):
        for i in range(10):
            _save(root / "dtd" / "images" / category / f"{category}_{i:04d}.jpg", "RGB")
    return root


def test_real_dataset_split_is_stratified_saved_and_reused(dtd_root, tmp_path):
    cache = tmp_path / "cache"
    test = D.open_dataset("dtd", "test", size=32, root=dtd_root, cache_dir=cache)
    train = D.open_dataset("dtd", "train", size=32, root=dtd_root, cache_dir=cache)
    assert len(test) == 4 and len(train) == 16  # 20 % held out, as 1128 of 5640
    assert sorted(i.split("/")[-2] for i in test.ids) == ["banded", "banded", "woven", "woven"]
    assert not set(test.ids) & set(train.ids)
    assert test[0]["image"].shape == (3, 32, 32)
    listed = (cache / "splits" / "dtd" / "test.txt").read_text()
    _save(dtd_root / "dtd" / "images" / "woven" / "woven_9999.jpg", "RGB")  # a new file …
    again = D.open_dataset("dtd", "test", size=32, root=dtd_root, cache_dir=cache)
    assert again.ids == test.ids  # … does not change a split once made
    (cache / "splits" / "dtd" / "test.txt").write_text(listed.replace("banded", "woven", 1))
    with pytest.raises(splits.SplitError, match="checksum"):
        D.open_dataset("dtd", "test", size=32, root=dtd_root, cache_dir=cache)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16"])
def test_any_mode_becomes_rgb(tmp_path, mode):
    root = tmp_path / "facade"
    for i in range(3):
        _save(root / "base" / f"cmp_b{i:04d}.jpg" if mode in ("L", "RGB") else root / "base" / f"cmp_b{i:04d}.png", mode)
    if mode not in ("L", "RGB"):  # CMP ships JPEGs; the PNGs beside them are label maps
        with pytest.raises(D.DatasetError, match="no facade images"):
            D.open_dataset("facade", "test", size=16, root=root, cache_dir=tmp_path / "c")
        item = D.FolderDataset("facade", "test", 16, root, ["base/cmp_b0000.png"])[0]
    else:
        item = D.open_dataset("facade", "test", size=16, root=root, cache_dir=tmp_path / "c")[0]
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype == torch.float32


def test_undecodable_file_names_the_file(tmp_path):
    root = tmp_path / "celeba"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    for i in range(4):
        _save(root / "CelebA-HQ-img" / f"{i}.jpg", "RGB")
    (root / "CelebA-HQ-img" / "4.jpg").write_bytes(b"not an image")
    dataset = D.FolderDataset("celeba-hq", "test", 16, root, ["CelebA-HQ-img/4.jpg"])
    with pytest.raises(ImageReadError, match="4.jpg"):
        dataset[0]


def test_missing_or_empty_folder_names_folder_and_layout(tmp_path):
    with pytest.raises(D.DatasetError, match="does not exist.*data_256"):
        D.open_dataset("places2", "train", size=16, root=tmp_path / "nowhere", cache_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(D.DatasetError, match="no places2 images found.*val_256"):
        D.open_dataset("places2", "train", size=16, root=tmp_path / "empty", cache_dir=tmp_path)
    with pytest.raises(D.DatasetError, match="needs a data root"):
        D.open_dataset("dtd", "train", size=16)
    with pytest.raises(D.DatasetError, match="unknown dataset 'mnist'"):
        D.open_dataset("mnist", "train", size=16)


def test_places2_pools_train_and_val(tmp_path):
    root = tmp_path / "places"
    for i in range(6):
        _save(root / "data_256" / "a" / "abbey" / f"{i:08d}.jpg", "RGB")
    for i in range(4):
        _save(root / "val_256" / f"Places365_val_{i:08d}.jpg", "RGB")
    train = D.open_dataset("places2", "train", size=16, root=root, cache_dir=tmp_path / "c")
    test = D.open_dataset("places2", "test", size=16, root=root, cache_dir=tmp_path / "c")
    assert len(train) + len(test) == 10 and len(test) == 1  # 10,000 of 1,839,960, at least one


def test_a_saved_split_never_hides_a_missing_root(dtd_root, tmp_path):
    D.open_dataset("dtd", "test", size=8, root=dtd_root, cache_dir=tmp_path / "cache")
    with pytest.raises(D.DatasetError, match="does not exist"):
        D.check_dataset("dtd", tmp_path / "moved", tmp_path / "cache")


def test_check_dataset_reports_counts_and_missing(dtd_root, tmp_path):
    cache = tmp_path / "cache"
    report = D.check_dataset("dtd", dtd_root, cache)
    assert [(r["split"], r["found"], r["expected"]) for r in report] == [("train", 16, 4512), ("test", 4, 1128)]
    victim = D.open_dataset("dtd", "test", size=8, root=dtd_root, cache_dir=cache).files[0]
    (dtd_root / victim).unlink()
    report = D.check_dataset("dtd", dtd_root, cache)
    assert report[1]["missing"] == [victim] and report[1]["found"] == 3


def test_mean_pixel_of_a_constant_dataset(tmp_path):
    root = tmp_path / "facade"
    for i in range(3):
        Image.new("RGB", (8, 8), (255, 0, 127)).save(root / f"cmp_b{i}.jpg" if root.exists() else (root.mkdir() or root / f"cmp_b{i}.jpg"))
    dataset = D.FolderDataset("facade", "train", 8, root, [f"cmp_b{i}.jpg" for i in range(3)])
    r, g, b = D.mean_pixel(dataset)
    assert r == pytest.approx(1.0, abs=0.02) and g == pytest.approx(-1.0, abs=0.02) and b == pytest.approx(0.0, abs=0.02)
