"""LaMa's and MAT's mask families: pixel-equal to masks recorded from the authors' own generators
(tests/fixtures/mask_families.json), sensitive to every parameter, usable as evaluation settings
(generated or from a `masks make` set) and end to end through `testset export` and
`evaluate --predictions` at 64², labelled as the authors' distribution."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import cli, config, runs, tables, testset
from bench.data import mask_families as F
from bench.data import masks
from bench.records import rows as rows_record
from bench.report.build import build_report

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mask_families.json").read_text())["families"]


def fingerprint(hole: np.ndarray | None) -> dict | None:
    if hole is None:
        return None
    return {"size": hole.shape[0], "holes": int(hole.sum()),
            "sha256": hashlib.sha256(np.packbits(hole).tobytes()).hexdigest()}


def authors_pass(family: F.LamaFamily | F.MatFamily, seed: int) -> np.ndarray | None:
    """What the authors' code writes with numpy's global state seeded by `seed` (one image)."""
    rng = np.random.RandomState(seed)
    return F.mat_mask(family, rng) if isinstance(family, F.MatFamily) else F.lama_image_mask(family, rng)


@pytest.mark.parametrize("name", list(F.FAMILIES))
def test_each_family_writes_the_authors_masks_pixel_for_pixel(name):
    recorded = FIXTURE[name]
    assert len(recorded) >= 5
    assert set(FIXTURE) == set(F.FAMILIES)
    for entry in recorded:
        assert fingerprint(authors_pass(F.FAMILIES[name], entry["seed"])) == entry["mask"], (name, entry["seed"])


def changed(value):
    """Another value (numpy's bounded integers draw the same number for nearby bounds, so not +1)."""
    return value * 2 + 1 if isinstance(value, int) else value * 1.2


LAMA_CHANGES = [("strokes", f.name) for f in dataclasses.fields(F.LamaStrokes)] + \
               [("boxes", f.name) for f in dataclasses.fields(F.LamaBoxes)] + [(None, "variants"), (None, "box_weight")]
MAT_CHANGES = [(None, f.name) for f in dataclasses.fields(F.MatFamily) if f.name != "size"]


@pytest.mark.parametrize("part, field", LAMA_CHANGES + MAT_CHANGES)
def test_a_changed_parameter_no_longer_gives_the_authors_masks(part, field):
    name = "lama-thick-256" if (part, field) in LAMA_CHANGES else "mat-small-512"
    family = F.FAMILIES[name]
    if part is None:
        family = dataclasses.replace(family, **{field: changed(getattr(family, field))})
    else:
        inner = getattr(family, part)
        inner = dataclasses.replace(inner, **{field: changed(getattr(inner, field))})
        family = dataclasses.replace(family, **{part: inner})
    assert any(fingerprint(authors_pass(family, e["seed"])) != e["mask"] for e in FIXTURE[name])


def test_max_hole_drops_candidates_over_half_and_a_dropped_image_draws_again():
    # seed 28 of lama-thick-256: all five candidates exceed 0.5 hole, the authors write no mask
    assert [e["mask"] for e in FIXTURE["lama-thick-256"] if e["seed"] == 28] == [None]
    family = F.FAMILIES["lama-thick-256"]
    assert F.lama_image_mask(dataclasses.replace(family, max_hole=0.9), np.random.RandomState(28)) is not None
    kept = F.family_mask("lama-thick-256", np.random.RandomState(28))  # the stream goes on: a next image
    assert kept.shape == (256, 256) and 0 < kept.mean() <= 0.5


def test_a_family_setting_is_seeded_resized_nearest_and_labelled():
    setting = masks.EvalSetting("mat-large-512")
    assert (setting.kind, setting.bucket, setting.folder, setting.label) == (
        "mat-large-512", "all", "mat-large-512_all", "MAT-distribution large 512")
    assert masks.EvalSetting("lama-thin-256").label == "LaMa-distribution thin 256"
    one = masks.test_masks("lama-thick-256", 64, count=3, seed=7)
    again = masks.test_masks("lama-thick-256", 64, count=3, seed=7)
    other = masks.test_masks("lama-thick-256", 64, count=3, seed=8)
    native = masks.family_native_mask("lama-thick-256", 7, 1)
    assert native.shape == (256, 256)
    assert np.array_equal(one[1][1], (native[2::4, 2::4] > 0).astype(np.float32))  # Pillow nearest: pixel centres
    assert one.ids == again.ids and all(np.array_equal(one[i][1], again[i][1]) for i in range(3))
    assert not all(np.array_equal(one[i][1], other[i][1]) for i in range(3))
    assert (one.setting, one.bucket) == ("lama-thick-256", "all")


def test_a_working_size_above_the_native_size_is_refused_naming_the_larger_family():
    with pytest.raises(masks.MaskError, match=r"lama-thick-256: its masks are drawn at 256×256 and only resized "
                       r"down, the working size is 512; use lama-thick-512"):
        masks.test_masks("lama-thick-256", 512, count=1)
    with pytest.raises(masks.MaskError, match=r"mat-small-512: .* the working size is 1024$"):
        masks.test_masks("mat-small-512", 1024, count=1)


def test_eval_masks_accepts_families_and_defaults_to_the_papers_settings():
    cfg = config.from_dict({"eval": {"masks": ["center", "lama-medium-512"]}})
    assert cfg.eval.masks == ("center", "lama-medium-512")
    assert config.from_dict({}).eval.masks == tuple(s.name for s in masks.PAPER_SETTINGS)
    with pytest.raises(config.ConfigError, match="lama-huge-256"):
        config.from_dict({"eval": {"masks": ["lama-huge-256"]}})


def test_masks_make_writes_families_at_native_size_with_checksums(tmp_path, capsys):
    out = tmp_path / "set"
    assert cli.main(["masks", "make", str(out), "--size", "64", "--count", "2", "--sets", "lama-thin-256"]) == 0
    with (out / masks.MANIFEST).open() as handle:
        listed = list(csv.DictReader(handle))
    assert [r["file"] for r in listed] == ["lama-thin-256/00000.png", "lama-thin-256/00001.png"]
    assert {r["bucket"] for r in listed} == {"lama-thin-256"} and not (out / "b0").exists()
    first = np.asarray(Image.open(out / listed[0]["file"]))
    assert first.shape == (256, 256) and np.array_equal(first, masks.family_native_mask("lama-thin-256", 0, 0))
    made = masks.test_masks("lama-thin-256", 64, count=2, mask_dir=out)
    generated = masks.test_masks("lama-thin-256", 64, count=2)
    assert all(np.array_equal(made[i][1], generated[i][1]) for i in range(2))
    with pytest.raises(masks.MaskError, match=r"manifest.csv: no masks for mask setting lama-thick-256"):
        masks.test_masks("lama-thick-256", 64, count=2, mask_dir=out)
    (out / listed[1]["file"]).write_bytes(masks._png_bytes(np.zeros((256, 256), np.uint8)))
    with pytest.raises(masks.MaskError, match=r"00001.png: sha256 .* differs"):
        masks.test_masks("lama-thin-256", 64, count=2, mask_dir=out)
    assert cli.main(["masks", "make", str(tmp_path / "bad"), "--sets", "irregular,lama-huge-256"]) == 2
    assert "--sets irregular,lama-huge-256: lama-huge-256 unknown" in capsys.readouterr().err


def test_export_and_evaluate_with_lama_thick_and_mat_large_end_to_end(tmp_path, capsys):
    names = ["lama-thick-256", "mat-large-512"]
    out = tmp_path / "testset"
    assert cli.main(["testset", "export", "sample", str(out), "--size", "64", "--count", "3",
                     "--masks", ",".join(names)]) == 0
    tests = testset.read(out)
    assert tests.protocol["settings"] == names
    assert tests.protocol["mask_families"]["lama-thick-256"].startswith("LaMa-distribution thick 256: ")
    assert "not the authors' own test masks" in tests.protocol["mask_families"]["mat-large-512"]
    for entry in tests.entries:
        hole = np.asarray(Image.open(entry.path(out, "masks"))) > 127
        assert hole.shape == (64, 64) and float(entry.hole_ratio) == pytest.approx(hole.mean())
    mask_id, mask = masks.test_masks("mat-large-512", 64, count=3)[0]
    first = tests.of_setting("mat-large-512")[0]
    assert first.mask_id == mask_id
    assert np.array_equal(np.asarray(Image.open(first.path(out, "masks"))) > 127, mask > 0)
    run = score_white_fill(tests, tmp_path / "outputs", tmp_path / "runs", capsys)
    rows = rows_record.read_frame(runs.RunFolder(run).rows_file)
    assert sorted(rows["mask_setting"].unique()) == names and set(rows["bucket"]) == {"all"}
    assert len(rows) == 6 and (rows.groupby("mask_setting").size() == 3).all()
    expected = {(e.setting, e.id): float(e.hole_ratio) for e in tests.entries}
    for _, row in rows.iterrows():
        assert float(row["hole_ratio"]) == pytest.approx(expected[(row["mask_setting"], row["image_id"])])
    # the tables: the family table by label, and each setting binned by its masks' hole ratio
    assert cli.main(["tables", str(run), "--out", str(tmp_path / "tables"), "--bin-by-hole-ratio", "10",
                     "--bin-by-hole-ratio", "20"]) == 0
    families = pd.read_csv(tmp_path / "tables" / "families.csv")
    assert list(families["masks"]) == ["LaMa-distribution thick 256", "MAT-distribution large 512"]
    assert list(families["n"]) == [3, 3]
    for width in (10, 20):
        binned = pd.read_csv(tmp_path / "tables" / f"hole_ratio_bins_{width}.csv")
        assert binned.groupby("mask_setting")["n"].sum().to_dict() == {name: 3 for name in names}
        for (setting, label), group in rows.groupby(["mask_setting", rows["hole_ratio"].map(
                lambda r, w=width: bin_label(r, w))]):
            hit = binned[(binned["mask_setting"] == setting) & (binned["hole_ratio_bin"] == label)]
            assert list(hit["n"]) == [len(group)]
            assert hit["psnr_ours"].iloc[0] == pytest.approx(group["psnr"].mean())
    report = build_report([run], tmp_path / "report", n_boot=10)
    assert "MAT-distribution large 512" in report.read_text()


def score_white_fill(tests: testset.TestSet, outputs, runs_root, capsys):
    """`evaluate --predictions` of a "method" that fills the exported holes with white; its run folder."""
    for entry in tests.entries:
        pixels = np.asarray(Image.open(entry.path(tests.root, "input"))).copy()
        pixels[np.asarray(Image.open(entry.path(tests.root, "masks"))) > 127] = 255
        (outputs / entry.setting).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(outputs / entry.setting / testset.file_name(entry.id))
    assert cli.main(["evaluate", "--predictions", str(outputs), "--name", "white", "--testset", str(tests.root),
                     "--runs-root", str(runs_root)]) == 0, capsys.readouterr().err
    return next(runs_root.rglob("rows.csv")).parent.parent


def bin_label(ratio: float, width: int) -> str:
    """The bin a hole ratio falls in, computed here by hand: (lo, hi], the first [0, w]."""
    k = max(0, math.ceil(round(ratio * 100 / width, 9)) - 1)
    return f"{'[' if k == 0 else '('}{k * width}%,{(k + 1) * width}%]"


def test_hole_ratio_bins_are_lamas_tens_and_comodgans_twenties_closed_on_the_right():
    edges, labels = tables.hole_ratio_bins(20)
    assert labels == ["[0%,20%]", "(20%,40%]", "(40%,60%]", "(60%,80%]", "(80%,100%]"]
    assert len(tables.hole_ratio_bins(10)[1]) == 10 and tables.hole_ratio_bins(10)[1][1] == "(10%,20%]"
    cut = pd.cut(pd.Series([0.0, 0.2, 0.2000001, 1.0]), edges, labels=labels, include_lowest=True).astype(str)
    assert list(cut) == ["[0%,20%]", "[0%,20%]", "(20%,40%]", "(80%,100%]"]
    with pytest.raises(ValueError, match="--bin-by-hole-ratio 15: use one of 10, 20"):
        tables.hole_ratio_bins(15)
