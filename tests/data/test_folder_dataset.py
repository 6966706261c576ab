"""The `folder` dataset: any folder of the user's images, searched recursively, split one in ten
(at least one) for testing, the split saved per resolved root; bad files and folders refused in
one line; and a tiny train → evaluate → tables → testset export through the command line."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from torch.utils.data import DataLoader

from bench import cli
from bench.data import datasets as D
from bench.data import splits
from bench.data.images import ImageReadError

VISIBLE = [f"{folder}img{i:02d}.{suffix}" for i, (folder, suffix) in enumerate(
    [("trip/day1/", "jpg"), ("trip/day2/", "png"), ("trip/", "JPG"), ("", "jpeg"), ("pets/", "webp"),
     ("pets/cats/", "bmp"), ("pets/cats/", "Png")] * 3)]


def _image(path, i, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (12 * i % 256, 90, 200 - 5 * i)).save(
        path, format={".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}[path.suffix.lower()])


def _photos(root):
    """21 images in nested folders (mixed and upper-case suffixes), plus what must be skipped."""
    for i, name in enumerate(VISIBLE):
        _image(root / name, i)
    _image(root / ".hidden.jpg", 0)
    _image(root / "trip" / ".thumbnails" / "img00.jpg", 1)
    (root / "trip" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def photos(tmp_path):
    return _photos(tmp_path / ".local" / "photos")  # a hidden folder above the root hides nothing


def _saved(cache, root):
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return cache / "splits" / f"folder-{digest}"


def test_every_image_recursively_split_one_in_ten_and_saved_per_root(photos, tmp_path):
    cache = tmp_path / "cache"
    train = D.open_dataset("folder", "train", size=16, root=photos, cache_dir=cache)
    test = D.open_dataset("folder", "test", size=16, root=photos, cache_dir=cache)
    assert sorted(train.files + test.files) == sorted(VISIBLE)
    assert len(test) == 2 and len(train) == 19 and not set(train.files) & set(test.files)
    assert test[0]["image"].shape == (3, 16, 16) and set(test.domains) == {"folder"}
    record = json.loads((_saved(cache, photos) / "split.json").read_text())
    assert record["counts"] == {"train": 19, "test": 2} and record["root"] == str(photos.resolve())
    assert splits.load_split(_saved(cache, photos), "test") == test.files
    # deterministic: a fresh cache makes the same lists; and a made split is kept when the folder grows
    again = D.open_dataset("folder", "test", size=16, root=photos, cache_dir=tmp_path / "other")
    assert again.files == test.files
    _image(photos / "trip" / "new.jpg", 3)
    assert D.open_dataset("folder", "test", size=16, root=photos, cache_dir=cache).files == test.files
    assert "1 image(s) of the folder are in no list (first: trip/new.jpg)" in D.split_drift("folder", photos, cache)


def test_another_folder_gets_its_own_split_and_the_same_folder_by_another_path_the_same(photos, tmp_path):
    cache = tmp_path / "cache"
    other = tmp_path / "other"
    for i in range(3):
        _image(other / f"o{i}.png", i)
    first = D.open_dataset("folder", "train", size=8, root=photos, cache_dir=cache)
    second = D.open_dataset("folder", "train", size=8, root=other, cache_dir=cache)
    assert len(first) == 19 and len(second) == 2 and set(second.files) < {"o0.png", "o1.png", "o2.png"}
    assert sorted(p.name for p in (cache / "splits").iterdir()) == sorted(
        [_saved(cache, photos).name, _saved(cache, other).name])
    roundabout = photos / ".." / photos.name
    assert D.open_dataset("folder", "train", size=8, root=roundabout, cache_dir=cache).files == first.files
    assert len(list((cache / "splits").iterdir())) == 2


@pytest.mark.parametrize("content, message", [
    ({}, "no folder images found; expected image files (.jpg"),
    ({"only.png": 1}, "1 image found (only.png); dataset 'folder' needs at least 2, one to train on and one to test on"),
    ({"a/x.jpg": 1, "a/x.PNG": 1}, "a/x.PNG and a/x.jpg would share the image id 'a/x'; rename or remove one"),
])
def test_a_folder_that_cannot_be_split_is_one_line(tmp_path, capsys, content, message):
    root = tmp_path / "photos"
    root.mkdir()
    (root / ".hidden.jpg").write_bytes(b"skipped")
    for i, name in enumerate(content):
        _image(root / name, i)
    code = cli.main(["data", "check", "folder", "--data-root", str(root), "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"error: {root}: " in err and message in err, err
    assert not (tmp_path / "cache").exists()  # nothing half-written


def test_a_missing_root_is_one_line(tmp_path, capsys):
    code = cli.main(["data", "check", "folder", "--data-root", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nowhere: dataset folder for 'folder' does not exist" in err


def test_verify_names_a_corrupt_image(photos, tmp_path, capsys):
    bad = photos / "pets" / "cats" / "img06.Png"
    bad.write_bytes(bad.read_bytes()[:30])
    args = ["data", "check", "folder", "--data-root", str(photos), "--cache-dir", str(tmp_path / "cache")]
    assert cli.main(args) == 0
    counted = capsys.readouterr().out
    assert "folder     train found        19  expected        19 (saved list)  ok" in counted
    assert cli.main([*args, "--verify"]) == 1
    verified = capsys.readouterr().out
    assert f"  corrupt: {bad}: cannot decode image" in verified and "1 CORRUPT" in verified


def test_an_unreadable_image_read_by_a_loader_worker_is_one_line(tmp_path):
    root = tmp_path / "photos"
    _image(root / "good.jpg", 0)
    (root / "bad.jpg").write_bytes(b"not an image")
    loader = DataLoader(D.FolderDataset("folder", "test", 8, root, ["good.jpg", "bad.jpg"]), num_workers=1)
    with pytest.raises(ImageReadError) as raised:
        list(loader)
    assert str(raised.value) == f"{root / 'bad.jpg'}: cannot decode image (cannot identify image file {str(root / 'bad.jpg')!r})"


def test_train_evaluate_tables_and_export_a_folder_through_the_cli(photos, tmp_path, capsys):
    cache, run = tmp_path / "cache", tmp_path / "runs" / "mine"
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "method": {"name": "pennet"}, "data": {"dataset": "folder", "size": 64, "cache_dir": str(cache)},
        "train": {"iterations": 2, "batch_size": 2, "checkpoint_every": 2, "num_workers": 0, "device": "cpu"},
        "eval": {"count": 2, "masks": ["center", "irregular_2"], "num_workers": 0}}))
    assert cli.main(["train", str(config), "--data-root", str(photos), "--run-dir", str(run), "--no-progress"]) == 0
    assert cli.main(["evaluate", str(run), "--no-progress"]) == 0
    rows = pd.read_csv(run / "eval" / "rows.csv")
    test = splits.load_split(_saved(cache, photos), "test")
    assert sorted(set(rows["image_id"])) == sorted(f.rsplit(".", 1)[0] for f in test)
    assert set(rows["dataset"]) == {"folder"} and len(rows) == 4
    assert cli.main(["tables", str(run), "--out", str(tmp_path / "tables")]) == 0
    table2 = pd.read_csv(tmp_path / "tables" / "table2.csv")
    mine = table2[table2["dataset"] == "folder"]
    assert list(mine["status"]) == ["not in paper"] and list(mine["source"]) == ["full"]
    assert mine["psnr_paper"].isna().all() and np.isfinite(mine["psnr_ours"]).all()
    assert table2["dataset"].iloc[-1] == "folder"  # after the paper's datasets
    table1 = pd.read_csv(tmp_path / "tables" / "table1.csv")
    assert table1[table1["dataset"] == "folder"][["split", "evaluated", "status"]].values.tolist() == [
        ["test", 2, "not in paper"]]
    out = tmp_path / "testset"
    assert cli.main(["testset", "export", "folder", str(out), "--data-root", str(photos), "--cache-dir", str(cache),
                     "--size", "64", "--masks", "center"]) == 0
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["dataset"] == "folder" and protocol["test_split"] == splits.fingerprint(
        [f.rsplit(".", 1)[0] for f in test])
    capsys.readouterr()


@pytest.mark.parametrize("command", [["data", "check"], ["testset", "export"]])
def test_help_lists_the_registry_datasets(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ", ".join(D.NAMES[:-1]) + " or " + D.NAMES[-1] in text and "folder" in D.NAMES


def test_extra_training_images_join_the_sample_train_split_only(photos, tmp_path):
    """data.extra_train_root: the sample set's train split, then every image under the folder at
    the sample set's scale (random crops, flips); the test split is untouched; other datasets and a
    folder without images are refused in one line."""
    own = D.open_dataset("sample", "train", size=16)
    joined = D.open_dataset("sample", "train", size=16, extra_train_root=photos)
    assert joined.ids[:len(own)] == own.ids and len(joined) == len(own) + len(VISIBLE)
    assert joined.ids[len(own)] == "extra/img03" and set(joined.domains[len(own):]) == {"extra"}
    assert D.open_dataset("sample", "test", size=16, extra_train_root=photos).ids == \
        D.open_dataset("sample", "test", size=16).ids
    rng = np.random.default_rng(0)
    items = [joined.augmented(len(own) + 1, rng, zoom) for zoom in (1, 3)]
    assert all(item["image"].shape == (3, 16, 16) for item in items)
    assert np.asarray(joined.load(len(own))).shape == (16, 16, 3)
    with pytest.raises(D.DatasetError, match="sample set only"):
        D.open_dataset("folder", "train", size=16, root=photos, extra_train_root=photos)
    (tmp_path / "none").mkdir()
    with pytest.raises(D.DatasetError, match="none: no folder images found"):
        D.open_dataset("sample", "train", size=16, extra_train_root=tmp_path / "none")


def test_extra_training_images_are_part_of_the_run_s_train_split(photos, tmp_path):
    """A run trained with extra images records them in its train split's checksum (so a resume
    without them is refused, as any other train split is)."""
    run, config = tmp_path / "runs" / "extra", tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "method": {"name": "glcic"}, "data": {"dataset": "sample", "size": 32, "extra_train_root": str(photos)},
        "train": {"iterations": 1, "batch_size": 2, "checkpoint_every": 1, "num_workers": 0, "device": "cpu"}}))
    assert cli.main(["train", str(config), "--run-dir", str(run), "--no-progress"]) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["split"]["train"] == splits.fingerprint(
        D.open_dataset("sample", "train", size=32, extra_train_root=photos).ids)
