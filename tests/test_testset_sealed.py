"""The exported test set is what our methods receive and is sealed: the training-free methods run
outside the harness on the export's files get the harness's own rows; an edited protocol key or
an edited, added or removed file is refused naming it; an export refuses a non-empty folder
(--force replaces an earlier export), a --count of 0 or beyond the split, and is redone in place
after a failure; --disjoint puts each image under one setting only."""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import cli, config, coverage, evaluate, methods, metrics, runs, tables, testset
from bench.data.images import to_tensor
from bench.method import MethodSpec
from bench.records import rows as rows_record
from bench.report import headline

SETTINGS = ["center", "irregular_3"]
TRAINING_FREE = ["telea", "navier-stokes", "biharmonic", "mean-fill"]


def protocol(method: str = "telea", count: int = 3) -> config.Config:
    return config.from_dict({
        "run": {"id": method}, "method": {"name": method}, "data": {"dataset": "sample", "size": 64},
        "train": {"device": "cpu"}, "eval": {"num_workers": 0, "count": count, "masks": SETTINGS}})


def export_cli(out: Path, *extra: str) -> int:
    return cli.main(["testset", "export", "sample", str(out), "--size", "64", "--masks", ",".join(SETTINGS),
                     *extra])


def score_cli(outputs: Path, tests: Path, runs_root: Path, capsys, name: str = "mine") -> tuple[int, str]:
    code = cli.main(["evaluate", "--predictions", str(outputs), "--name", name, "--testset", str(tests),
                     "--runs-root", str(runs_root)])
    return code, capsys.readouterr().err


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "testset"
    testset.export(protocol(), out)
    return out


@pytest.fixture
def tests_copy(exported, tmp_path) -> Path:
    shutil.copytree(exported, tmp_path / "testset")
    return tmp_path / "testset"


# --- the input is what our methods receive -------------------------------------------------------
def test_the_input_holes_are_the_value_the_evaluator_gives_methods(exported):
    tests = testset.read(exported)
    assert tests.protocol["hole_value"] == testset.HOLE_VALUE == 127
    given = torch.zeros(1, 3, 2, 2)  # the evaluator's hole: images * (1 - holes) = 0
    assert (metrics.quantize(given) == tests.protocol["hole_value"]).all()
    for entry in tests.entries:
        hole = np.asarray(Image.open(entry.path(exported, "masks"))) > 127
        masked = np.asarray(Image.open(entry.path(exported, "input")))
        truth = np.asarray(Image.open(entry.path(exported, "truth")))
        assert hole.any() and (masked[hole] == 127).all() and np.array_equal(masked[~hole], truth[~hole])


@pytest.mark.parametrize("name", TRAINING_FREE)
def test_a_training_free_method_run_outside_the_harness_on_the_export_gets_its_rows(name, exported, tmp_path,
                                                                                     capsys):
    harness_rows = rows_record.read_frame(evaluate.evaluate(protocol(name), run_dir=tmp_path / name, progress=False))
    # outside the harness: the export's own files, the method's inpaint, an 8-bit PNG per image
    method = methods.create(name, MethodSpec(image_size=64, dataset="sample"))
    manifest = json.loads((exported / "protocol.json").read_text())
    for setting in manifest["settings"]:
        for given in sorted((exported / setting / "input").rglob("*.png")):
            relative = given.relative_to(exported / setting / "input")
            image = to_tensor(np.asarray(Image.open(given).convert("RGB")))[None]
            hole = np.asarray(Image.open(exported / setting / "masks" / relative).convert("L")) > 127
            output = method.inpaint(image, torch.from_numpy(hole).float()[None, None])
            target = tmp_path / "outputs" / setting / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(metrics.quantize(output)[0].numpy()).save(target)
    code, err = score_cli(tmp_path / "outputs", exported, tmp_path / "runs", capsys, name=f"{name}-outside")
    assert code == 0, err
    outside = rows_record.read_frame(tmp_path / "runs" / f"{name}-outside-sample-64px-predictions/eval/rows.csv")
    key = ["mask_setting", "bucket", "image_id", "mask_id"]
    joined = harness_rows.merge(outside, on=key, suffixes=("_harness", "_outside"))
    assert len(joined) == len(harness_rows) == len(outside) == 3 * len(SETTINGS)
    for metric in metrics.METRICS:
        np.testing.assert_allclose(joined[f"{metric}_outside"], joined[f"{metric}_harness"], rtol=0, atol=1e-6,
                                   err_msg=metric)


# --- sealed ------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [("dataset", "celeba-hq"), ("mask_seed", 1), ("count", 2),
                                        ("settings", ["center"]), ("size", 128)])
def test_an_edited_protocol_key_is_refused_naming_the_key(tests_copy, tmp_path, capsys, key, value):
    path = tests_copy / "protocol.json"
    data = json.loads(path.read_text())
    assert data[key] != value
    path.write_text(json.dumps({**data, key: value}, indent=2))
    code, err = score_cli(tmp_path, tests_copy, tmp_path / "runs", capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"protocol.json: key(s) {key} differ from the values sealed at export" in err
    assert not (tmp_path / "runs").exists()


def first_file(root: Path, setting: str, view: str) -> Path:
    return sorted((root / setting / view).rglob("*.png"))[0]


def edit(root: Path) -> Path:
    path = first_file(root, "irregular_3", "input")
    pixels = np.asarray(Image.open(path)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(path)
    return path


def add(root: Path) -> Path:
    path = root / "center" / "input" / "extra.png"
    shutil.copy(first_file(root, "center", "input"), path)
    return path


def remove(root: Path) -> Path:
    path = first_file(root, "center", "masks")
    path.unlink()
    return path


@pytest.mark.parametrize("damage, says", [(edit, "sha256 differs"), (add, "not part of the test set"),
                                          (remove, "missing, though")])
def test_an_edited_added_or_removed_file_is_refused_naming_the_file(tests_copy, tmp_path, capsys, damage, says):
    path = damage(tests_copy)
    code, err = score_cli(tmp_path, tests_copy, tmp_path / "runs", capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: {path}: {says}")
    assert not (tmp_path / "runs").exists()


# --- the export's own checks -----------------------------------------------------------------------
def test_export_refuses_a_non_empty_folder_and_force_replaces_only_an_earlier_export(exported, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    for extra in ((), ("--force",)):
        assert export_cli(mine, "--count", "2", *extra) == 2
        assert "not a test set" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "keep me"
    earlier = tmp_path / "earlier"
    shutil.copytree(exported, earlier)  # 3 images per setting
    before = files_of(earlier)
    assert export_cli(earlier, "--count", "2") == 2
    assert "already holds a test set; give --force" in capsys.readouterr().err and files_of(earlier) == before
    (earlier / "center" / "input" / "mine.txt").write_text("an output of mine")
    assert export_cli(earlier, "--count", "2", "--force") == 2
    assert "mine.txt" in capsys.readouterr().err and files_of(earlier)["center/input/mine.txt"]
    (earlier / "center" / "input" / "mine.txt").unlink()
    assert export_cli(earlier, "--count", "2", "--force") == 0
    tests = testset.read(earlier)  # no stale file of the earlier export is left
    assert tests.protocol["count"] == 2 and len(tests.entries) == 2 * len(SETTINGS)
    assert len(files_of(earlier)) == 2 * len(SETTINGS) * 3 + 2


@pytest.mark.parametrize("count, says", [("0", "--count 0: a test set needs at least 1 image"),
                                         ("25", "--count 25: the sample test split has 24 images")])
def test_export_refuses_a_count_of_zero_or_beyond_the_split(tmp_path, capsys, count, says):
    assert export_cli(tmp_path / "out", "--count", count) == 2
    assert capsys.readouterr().err.startswith(f"error: {says}")
    assert not (tmp_path / "out").exists()


def test_disjoint_puts_each_image_under_one_setting_and_says_how_many(tmp_path, capsys):
    assert export_cli(tmp_path / "out", "--count", "5", "--disjoint") == 0
    said = capsys.readouterr().out
    assert "disjoint: each image under one setting only: 2 images per setting, 4 of the first 5" in said
    tests = testset.read(tmp_path / "out")
    assert tests.protocol["disjoint"] is True and tests.protocol["per_setting"] == 2
    ids = [e.id for e in tests.entries]
    assert len(ids) == len(set(ids)) == 2 * len(SETTINGS)
    assert all(len(tests.of_setting(s)) == 2 for s in SETTINGS)
    for entry in tests.entries:  # perfect outputs: the truth itself
        target = tmp_path / "outputs" / entry.setting / testset.file_name(entry.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(entry.path(tests.root, "truth"), target)
    code, err = score_cli(tmp_path / "outputs", tmp_path / "out", tmp_path / "runs", capsys)
    assert code == 0, err
    run = tmp_path / "runs" / "mine-sample-64px-predictions"
    assert len(rows_record.read_frame(runs.RunFolder(run).rows_file)) == 4
    assert coverage.problem(run) is None  # the plan counts the images each setting has


def test_the_default_export_says_each_image_is_under_every_setting(tmp_path, capsys):
    assert export_cli(tmp_path / "out", "--count", "2") == 0
    said = capsys.readouterr().out
    assert "each of the 2 images is under all 2 settings" in said and "export with --disjoint" in said


# --- redone in place -----------------------------------------------------------------------------
def failing_writes(monkeypatch, after: int) -> None:
    """Every atomic write after the first `after` fails as on a full disk."""
    real, calls = runs.atomic_file, itertools.count()

    @contextlib.contextmanager
    def atomic_file(path, mode="wb", kept=""):
        with real(path, mode, kept) as handle:
            if next(calls) >= after:
                raise OSError(errno.ENOSPC, "No space left on device")
            yield handle

    monkeypatch.setattr(runs, "atomic_file", atomic_file)


def test_a_failed_or_killed_export_is_redone_in_place(exported, tmp_path, capsys, monkeypatch):
    out = tmp_path / "testset"
    with monkeypatch.context() as patch:  # the disk fills in the middle: nothing is left behind
        failing_writes(patch, after=8)
        assert export_cli(out, "--count", "3") == 2
    err = capsys.readouterr().err
    assert "no space left on device" in err and f"the unfinished export was removed and {out} is as it was" in err
    assert sorted(tmp_path.iterdir()) == []
    with monkeypatch.context() as patch:  # killed in the middle: nothing cleans up
        failing_writes(patch, after=8)
        patch.setattr(testset, "abandon", lambda folder: None)
        assert export_cli(out, "--count", "3") == 2
    capsys.readouterr()
    assert not out.exists() and (tmp_path / ".testset.unfinished" / testset.UNFINISHED_MARK).is_file()
    assert export_cli(out, "--count", "3") == 0  # the rerun, without --force
    assert "an unfinished export (one that was killed) deleted; exporting again" in capsys.readouterr().err
    assert files_of(out) == files_of(exported) and sorted(tmp_path.iterdir()) == [out]
    with monkeypatch.context() as patch:  # a failed --force replacement keeps the earlier export
        failing_writes(patch, after=8)
        assert export_cli(out, "--count", "2", "--force") == 2
    assert files_of(out) == files_of(exported) and sorted(tmp_path.iterdir()) == [out]
    (out / testset.UNFINISHED_MARK).write_text("")  # killed between its rename and its last step
    assert export_cli(out, "--count", "3") == 0
    assert files_of(out) == files_of(exported)


# --- a short split is never "full" ---------------------------------------------------------------
def test_a_split_short_of_the_published_size_is_labelled_short_not_full(tmp_path, capsys):
    root, cache = tmp_path / "facade", tmp_path / "cache"
    rng = np.random.default_rng(0)
    for k in range(20):  # 20 of the 606 published images: a test split of 3
        (root / "base").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(root / "base" / f"cmp_{k:02d}.jpg")
    data = {"dataset": "facade", "size": 64, "root": str(root), "cache_dir": str(cache)}
    cfg = config.from_dict({"run": {"id": "mean-fill-facade"}, "method": {"name": "mean-fill"}, "data": data,
                            "train": {"device": "cpu"}, "eval": {"num_workers": 0, "masks": ["center"]}})
    evaluated = evaluate.evaluate(cfg, run_dir=tmp_path / "runs" / "mean-fill-facade", progress=False)
    assert cli.main(["testset", "export", "facade", str(tmp_path / "testset"), "--data-root", str(root),
                     "--cache-dir", str(cache), "--size", "64", "--masks", "center"]) == 0
    said = capsys.readouterr().out
    assert "the facade test split here has 3 images, short of its published 100" in said
    tests = testset.read(tmp_path / "testset")
    for entry in tests.entries:
        target = tmp_path / "outputs" / testset.file_name(entry.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(entry.path(tests.root, "truth"), target)
    assert score_cli(tmp_path / "outputs", tmp_path / "testset", tmp_path / "runs", capsys)[0] == 0
    runs_ = [evaluated.parent.parent, tmp_path / "runs" / "mine-facade-64px-predictions"]
    rows = tables.load_rows(runs_)
    assert len(rows) == 6 and set(rows["source"]) == {tables.SOURCE_SHORT}
    table2 = tables.build_tables(rows, tables.load_paper())["table2"]
    ours = table2[table2["run_id"].isin(["mean-fill-facade", "mine-facade-64px-predictions"])]
    assert len(ours) == 2 and set(ours["source"]) == {tables.SOURCE_SHORT}
    label = tables.dataset_label("facade", tables.SOURCE_SHORT)
    assert label == "facade (test split short of its published 100 images)"
    # a method the paper reports, scored on the short split: beside the paper's number, not comparable
    as_pennet = rows[rows["run_id"] == "mean-fill-facade"].assign(method="pennet")
    built = tables.build_tables(as_pennet, tables.load_paper())
    beside = built["table2"][built["table2"]["n"].notna()]
    assert list(beside["method"]) == ["pennet"] and not beside["psnr_paper"].isna().any()
    assert list(beside["status"]) == [tables.STATUS_SHORT]
    assert headline.sentences(built)[-1].startswith("None of our 1 table rows is comparable with the paper: 1 were "
                                                    "scored on a test split smaller than the dataset's published one")
