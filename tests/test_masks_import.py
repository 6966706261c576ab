"""`masks import`: the NVIDIA test set (bucket by index) and MAT's released masks (paired by sorted
name) become the checksummed mask set data.mask_dir reads, tested on synthetic files laid out as
the originals; a set of the wrong count, size or mode is refused naming the file, before anything
is written."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import cli, config, testset
from bench.data import mask_import, masks
from tests.test_mask_families import score_white_fill

PER_BUCKET = 2  # the real set has 2,000; the CLI checks that count


def rectangle(ratio: float, size: int = 512, white_hole: bool = True) -> Image.Image:
    hole = np.zeros((size, size), bool)
    hole.flat[: round(ratio * size * size)] = True
    return Image.fromarray(((hole if white_hole else ~hole) * 255).astype(np.uint8))


def nvidia_set(root, per_bucket=PER_BUCKET):
    """test_mask.zip unpacked: mask/testing_mask_dataset/00000.png …, bucket k // per_bucket;
    the last file's hole lies outside its bucket."""
    folder = root / "mask" / "testing_mask_dataset"
    folder.mkdir(parents=True)
    total = per_bucket * len(masks.BUCKETS)
    for k in range(total):
        lo, hi = masks.BUCKETS[k // per_bucket]
        rectangle(0.05 if k == total - 1 else (lo + hi) / 2).save(folder / f"{k:05d}.png")
    return folder


def manifest_rows(out):
    with (out / masks.MANIFEST).open() as handle:
        return list(csv.DictReader(handle))


def test_the_nvidia_set_is_imported_bucket_by_index_and_read_as_a_mask_set(tmp_path):
    source = nvidia_set(tmp_path / "src")
    manifest, outside = mask_import.import_nvidia(tmp_path / "src", tmp_path / "set", per_bucket=PER_BUCKET)
    rows = manifest_rows(tmp_path / "set")
    assert [r["file"] for r in rows[:3]] == ["b0/00000.png", "b0/00001.png", "b1/00000.png"]
    assert [r["bucket"] for r in rows] == [label for label in masks.BUCKET_LABELS for _ in range(PER_BUCKET)]
    assert outside == 1 and float(rows[-1]["ratio"]) == pytest.approx(0.05, abs=1e-5)
    params = (tmp_path / "set" / "params.txt").read_text()
    assert "licence=CC_BY-NC-SA_4.0" in params and "count=2" in params
    found = masks.test_masks("irregular", 64, bucket=3, count=2, mask_dir=tmp_path / "set")
    assert np.array_equal(found[1][1], masks.read_mask_png(source / "00007.png", 64))
    (tmp_path / "set" / "b3" / "00001.png").write_bytes(b"changed")
    with pytest.raises(masks.MaskError, match=r"b3/00001.png: sha256 .* differs"):
        masks.test_masks("irregular", 64, bucket=3, count=2, mask_dir=tmp_path / "set")


def test_the_cli_checks_the_real_count_of_12000(tmp_path, capsys):
    nvidia_set(tmp_path / "src")
    assert cli.main(["masks", "import", "nvidia", str(tmp_path / "src"), "--out", str(tmp_path / "set")]) == 2
    err = capsys.readouterr().err
    assert "testing_mask_dataset: 12 PNG files, the NVIDIA test set has 12000 (00000.png … 11999.png); " \
           "missing 00012.png, 00013.png, 00014.png" in err
    assert not (tmp_path / "set").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda f: rectangle(0.05, 256).save(f), r"00004.png: 256×256, the NVIDIA test masks are 512×512"),
    (lambda f: Image.new("RGBA", (512, 512)).save(f), r"00004.png: mode RGBA, expected a grey mask image"),
    (lambda f: f.write_bytes(b"not a png"), r"00004.png: cannot read mask"),
    (lambda f: f.rename(f.with_name("99999.png")), r"12 PNG files, .*; missing 00004.png; unexpected 99999.png$"),
])
def test_a_wrong_file_is_named_and_nothing_is_written(tmp_path, damage, message):
    folder = nvidia_set(tmp_path / "src")
    damage(folder / "00004.png")
    with pytest.raises(masks.MaskError, match=message):
        mask_import.import_nvidia(tmp_path / "src", tmp_path / "set", per_bucket=PER_BUCKET)
    assert not (tmp_path / "set").exists()


def test_an_extra_file_is_refused(tmp_path):
    folder = nvidia_set(tmp_path / "src")
    rectangle(0.05).save(folder / "12000.png")
    with pytest.raises(masks.MaskError, match=r"13 PNG files, .*; unexpected 12000.png"):
        mask_import.import_nvidia(tmp_path / "src", tmp_path / "set", per_bucket=PER_BUCKET)


def test_mats_masks_are_paired_by_sorted_name_and_inverted(tmp_path, capsys):
    src = tmp_path / "masks_val_512_eval"
    src.mkdir()
    names = {"Places365_val_00000010.png": 0.4, "Places365_val_00000002.png": 0.1, "Places365_val_00000001.png": 0.7}
    for name, ratio in names.items():
        rectangle(ratio, white_hole=False).save(src / name)  # MAT: 0 = hole
    assert cli.main(["masks", "import", "mat", str(src), "--out", str(tmp_path / "set"),
                     "--setting", "mat-large-512", "--count", "3"]) == 0
    rows = manifest_rows(tmp_path / "set")
    assert [r["file"] for r in rows] == [f"mat-large-512/{i:05d}.png" for i in range(3)]
    assert [float(r["ratio"]) for r in rows] == pytest.approx([0.7, 0.1, 0.4], abs=1e-5)  # sorted names
    found = masks.test_masks("mat-large-512", 64, count=3, mask_dir=tmp_path / "set")
    assert found[2][1].mean() == pytest.approx(0.4, abs=0.02) and found.setting == "mat-large-512"
    # exported with data.mask_dir: the authors' own masks, and protocol.json says so
    cfg = config.from_dict({"data": {"dataset": "sample", "size": 64, "mask_dir": str(tmp_path / "set")},
                            "eval": {"masks": ["mat-large-512"], "count": 3}})
    tests = testset.read(testset.export(cfg, tmp_path / "testset").parent)
    assert "source=mat" in tests.protocol["mask_families"]["mat-large-512"]
    assert "seeded generator" not in tests.protocol["mask_families"]["mat-large-512"]
    exported = np.asarray(Image.open(tests.of_setting("mat-large-512")[2].path(tests.root, "masks"))) > 127
    assert np.array_equal(exported, found[2][1] > 0)
    # scored, the rows' mask ids say the masks are MAT's released files, and the tables label them so
    assert [e.mask_id for e in tests.entries] == [f"mat-large-512-released-{i:05d}" for i in range(3)]
    run = score_white_fill(tests, tmp_path / "outputs", tmp_path / "runs", capsys)
    assert cli.main(["tables", str(run), "--out", str(tmp_path / "tables")]) == 0
    assert list(pd.read_csv(tmp_path / "tables" / "families.csv")["masks"]) == ["MAT's released masks large 512"]
    assert cli.main(["masks", "import", "mat", str(src), "--out", str(tmp_path / "other"),
                     "--setting", "mat-large-512", "--count", "4"]) == 2
    assert "masks_val_512_eval: 3 PNG files, expected 4 (--count" in capsys.readouterr().err
    assert cli.main(["masks", "import", "mat", str(src), "--out", str(tmp_path / "other")]) == 2
    assert "masks import mat needs --setting" in capsys.readouterr().err
    with pytest.raises(masks.MaskError, match="--setting 'lama-thick-256': MAT's masks are"):
        mask_import.import_mat(src, tmp_path / "other", "lama-thick-256", 3)
