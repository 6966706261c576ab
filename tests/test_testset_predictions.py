"""The open benchmark: `testset export` writes the protocol's test set (byte-identical twice),
`evaluate --predictions` scores a folder of outputs exactly as the evaluator scores our methods
(the round trip through `inpaint` gives the evaluator's rows), and every bad input is one line
before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import cli, config, evaluate, inpaint, predictions, runs, tables, testset, train
from bench.metrics import METRICS
from bench.records import rows as rows_record
from bench.report.build import build_report
from tests import toy_method

SETTINGS = ["center", "irregular_3"]


def round_trip(root: Path, method: str, options: dict | None = None) -> dict:
    """A tiny `method` run evaluated, its protocol's test set exported, the run's checkpoint run
    over the test set's inputs with `inpaint`, and those outputs scored with --predictions."""
    cfg = config.from_dict({
        "run": {"id": "pen"}, "method": {"name": method, "options": options or {}}, "data": {"dataset": "sample", "size": 64},
        "train": {"iterations": 2, "batch_size": 2, "checkpoint_every": 2, "num_workers": 0, "device": "cpu",
                  "log_every": 1, "sample_every": 100},
        # batch 1: the batches inpaint runs, so the two paths do the same float arithmetic
        "eval": {"batch_size": 1, "num_workers": 0, "count": 4, "samples_to_save": 4, "masks": SETTINGS}})
    train.train(cfg, run_dir=root / "pen", progress=False)
    evaluated = evaluate.evaluate(root / "pen", progress=False)
    testset.export(cfg, root / "testset")
    checkpoint = runs.latest_checkpoint(runs.RunFolder(root / "pen"))
    for setting in SETTINGS:
        inpaint.inpaint_files(method, checkpoint, root / "testset" / setting / "input",
                              root / "testset" / setting / "masks", root / "outputs" / setting)
    scored = predictions.score(root / "outputs", "pen-outputs", root / "testset", runs_root=root / "scored")
    return {"root": root, "evaluated": evaluated, "scored": scored, "config": cfg}


@pytest.fixture(scope="module")
def trip(tmp_path_factory):
    """The round trip of our own trained PEN-Net. At lr 1e-3 its two steps move its holes off the
    flat value of a zero output (at the paper's 1e-4 they are that value, which is the exported
    inputs' hole value: the known-pixel check would call them unfilled)."""
    return round_trip(tmp_path_factory.mktemp("trip"), "pennet", {"lr": 1e-3})


@pytest.fixture(scope="module")
def toy_trip(tmp_path_factory):
    """The round trip of the toy method, whose holes take many levels: where rounding shows."""
    with toy_method.registered():
        return round_trip(tmp_path_factory.mktemp("toy_trip"), "toy")


def copy_inputs(trip, tmp_path):
    """A private copy of the outputs and the test set (tests that break one)."""
    shutil.copytree(trip["root"] / "outputs", tmp_path / "outputs")
    shutil.copytree(trip["root"] / "testset", tmp_path / "testset")
    return tmp_path / "outputs", tmp_path / "testset"


def score_cli(outputs, tests, tmp_path, capsys, name="mine"):
    code = cli.main(["evaluate", "--predictions", str(outputs), "--name", name, "--testset", str(tests),
                     "--runs-root", str(tmp_path / "runs")])
    return code, capsys.readouterr().err


# --- the round trip ----------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["trip", "toy_trip"])
def test_outputs_of_inpaint_score_exactly_as_the_evaluator_scores_the_run(which, request):
    trip = request.getfixturevalue(which)
    if which == "toy_trip":  # holes of many levels, where rounding and truncation differ
        hole = np.asarray(Image.open(sorted((trip["root"] / "testset/center/masks").iterdir())[0])) > 127
        output = np.asarray(Image.open(sorted((trip["root"] / "outputs/center").iterdir())[0]))
        assert len(np.unique(output[hole])) > 10
    ours = rows_record.read_frame(trip["evaluated"])
    supplied = rows_record.read_frame(trip["scored"])
    key = ["mask_setting", "bucket", "image_id", "mask_id", "domain", "hole_ratio"]
    joined = ours.merge(supplied, on=key, suffixes=("_eval", "_pred"))
    assert len(joined) == len(ours) == len(supplied) == 4 * len(SETTINGS)
    # the stated bound: each composite pixel within one 8-bit level of the evaluator's; both paths
    # quantise alike (truncation) and run the same batches, so here every pixel is the same …
    for setting in SETTINGS:
        folder = f"{setting.split('_')[0]}_{'all' if setting == 'center' else setting.split('_')[1]}"
        for path in sorted((trip["root"] / "pen/eval/samples" / folder).glob("*_output.png")):
            mine = trip["scored"].parent / "samples" / folder / path.name
            assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(mine))), path.name
    # … and so every metric of every row is the evaluator's
    for metric in METRICS:
        assert np.array_equal(joined[f"{metric}_eval"], joined[f"{metric}_pred"]), metric
    assert set(supplied["method"]) == {"pen-outputs"}
    assert supplied["protocol"].str.contains("outputs=outputs supplied by the user").all()


def test_the_run_records_the_outputs_provenance_and_the_known_pixels(trip):
    run = runs.RunFolder(trip["scored"].parent.parent)
    manifest = run.read_manifest()
    listing = run.predictions_listing.read_text()
    assert manifest.provenance == {"kind": "predictions", "name": "pen-outputs",
                                   "files": testset.sha256(listing.encode()), "count": 8,
                                   "testset": json.loads((trip["root"] / "testset/protocol.json").read_text())
                                   ["manifest_sha256"]}
    assert len(listing.splitlines()) == 8 and "center/sample" not in listing
    known = pd.read_csv(run.known_pixels_file)
    assert len(known) == 8 and (known["known_max_abs_diff"] == 0).all()  # inpaint keeps the known pixels
    assert json.loads(run.method_file.read_text())["description"] == predictions.DESCRIPTION


def test_outputs_that_alter_known_pixels_are_reported_and_composited_away(trip, tmp_path):
    outputs, tests = copy_inputs(trip, tmp_path)
    entry = testset.read(tests).of_setting("center")[0]
    path = outputs / "center" / testset.file_name(entry.id)
    pixels = np.asarray(Image.open(path)).copy()
    pixels[0, 0] = 255 - pixels[0, 0]  # a corner: outside the centre hole
    Image.fromarray(pixels).save(path)
    scored = predictions.score(outputs, "pen-outputs", tests, runs_root=tmp_path / "runs")
    known = pd.read_csv(runs.RunFolder(scored.parent.parent).known_pixels_file)
    changed = known[known["known_max_abs_diff"] > 0]
    assert list(changed["image_id"]) == [entry.id]
    assert changed["known_changed_pct"].iloc[0] == pytest.approx(100 / (64 * 64 * 3 / 4))
    card = json.loads((scored.parent.parent / "method.json").read_text())
    assert card["protocol"]["known pixels"].startswith("changed in 1 of 8 outputs")
    mine, theirs = rows_record.read_frame(scored), rows_record.read_frame(trip["scored"])
    assert np.array_equal(mine["psnr"], theirs["psnr"])  # the composite keeps the truth's known pixels


def test_tables_and_report_show_the_outputs_beside_the_reference_method(trip, tmp_path):
    # the reference: the PEN-Net run relabelled as SRPNet (same images and masks, other numbers)
    reference = tmp_path / "srpnet-run"
    shutil.copytree(trip["root"] / "pen", reference)
    folder = runs.RunFolder(reference)
    folder.update_manifest(method="srpnet", run_id="srpnet-run")
    frame = rows_record.read_frame(folder.rows_file).assign(method="srpnet", run_id="srpnet-run", psnr=lambda f: f["psnr"] + 1)
    folder.rows_file.write_text(frame.to_csv(index=False))
    scored_run = trip["scored"].parent.parent
    built = tables.build_tables(tables.load_rows([reference, scored_run]), tables.load_paper())
    table2 = built["table2"]
    ours = table2[(table2["method"] == "pen-outputs (supplied outputs)") & (table2["source"] != "paper")]
    assert len(ours) and ours.filter(like="ci").notna().all(axis=None)
    paired = built["paired"]
    assert set(paired["baseline"]) == {"pen-outputs (supplied outputs)"}
    assert paired["psnr_diff"].to_numpy() == pytest.approx(1.0)
    html = build_report([reference, scored_run], tmp_path / "report").read_text()
    digest = runs.RunFolder(scored_run).read_manifest().provenance["files"]
    assert "outputs supplied by the user" in html and digest[:12] in html


# --- the export --------------------------------------------------------------------------------
def test_two_exports_of_one_protocol_are_byte_identical(tmp_path, capsys):
    for out in ("a", "b"):
        assert cli.main(["testset", "export", "sample", str(tmp_path / out), "--size", "64", "--count", "3",
                         "--masks", "center,irregular_0"]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 2 * 3 * 3 + 2
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    tests = testset.read(tmp_path / "a")
    entry = tests.entries[0]
    hole = np.asarray(Image.open(entry.path(tests.root, "masks"))) > 127
    truth, masked = (np.asarray(Image.open(entry.path(tests.root, v))) for v in ("truth", "input"))
    assert (masked[hole] == testset.HOLE_VALUE).all() and np.array_equal(masked[~hole], truth[~hole])
    assert tests.protocol["settings"] == ["center", "irregular_0"] and tests.protocol["count"] == 3


def test_the_truth_is_the_image_the_evaluator_prepares(trip):
    from bench.setup import open_data

    data = open_data(trip["config"], "test")
    tests = testset.read(trip["root"] / "testset")
    for entry in tests.of_setting("irregular_3"):
        i = data.ids.index(entry.id)
        assert np.array_equal(np.asarray(Image.open(entry.path(tests.root, "truth"))), np.asarray(data.load(i)))


# --- bad input: one line, nothing written --------------------------------------------------------
def test_a_missing_output_is_counted_and_the_first_named(trip, tmp_path, capsys):
    outputs, tests = copy_inputs(trip, tmp_path)
    first = sorted((outputs / "irregular_3").iterdir())[0]
    first.unlink()
    code, err = score_cli(outputs, tests, tmp_path, capsys)
    assert code == 2 and "1 of 8 outputs missing" in err and str(first) in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_an_extra_file_is_a_warning_and_ignored(trip, tmp_path, capsys):
    outputs, tests = copy_inputs(trip, tmp_path)
    (outputs / "center" / "notes.txt").write_text("hello")
    code, err = score_cli(outputs, tests, tmp_path, capsys)
    assert code == 0 and "warning:" in err and "notes.txt" in err and "ignored" in err
    scored = rows_record.read_frame(tmp_path / "runs/mine-sample-64px-predictions/eval/rows.csv")
    assert np.array_equal(scored["psnr"], rows_record.read_frame(trip["scored"])["psnr"])


def test_an_output_of_the_wrong_size_names_the_file_and_both_sizes(trip, tmp_path, capsys):
    outputs, tests = copy_inputs(trip, tmp_path)
    path = sorted((outputs / "center").iterdir())[1]
    Image.open(path).resize((63, 64)).save(path)
    code, err = score_cli(outputs, tests, tmp_path, capsys)
    assert code == 2 and str(path) in err and "63×64" in err and "64×64" in err
    assert not (tmp_path / "runs").exists()


def test_an_unreadable_output_is_named(trip, tmp_path, capsys):
    outputs, tests = copy_inputs(trip, tmp_path)
    path = sorted((outputs / "irregular_3").iterdir())[2]
    path.write_bytes(b"not a png at all")
    code, err = score_cli(outputs, tests, tmp_path, capsys)
    assert code == 2 and str(path) in err and "cannot decode" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name, message", [("pennet", "is a registered method"), ("srpnet", "is a registered method"),
                                           ("../up", "one path component"), ("a/b", "one path component")])
def test_a_name_that_is_a_method_or_a_path_is_refused(trip, tmp_path, capsys, name, message):
    code, err = score_cli(trip["root"] / "outputs", trip["root"] / "testset", tmp_path, capsys, name=name)
    assert code == 2 and message in err and repr(name) in err
    assert not (tmp_path / "runs").exists()


def invert(path: Path) -> None:
    """Another valid mask in place of the exported one."""
    Image.fromarray(255 - np.asarray(Image.open(path))).save(path)


@pytest.mark.parametrize("damage, named", [
    (lambda t: (t / "protocol.json").write_text("{"), "protocol.json"),
    (lambda t: (t / "protocol.json").write_text(json.dumps({"format": 1})), "protocol.json"),
    (lambda t: (t / "manifest.csv").write_text((t / "manifest.csv").read_text().replace("center", "centre", 1)),
     "manifest.csv"),
    (lambda t: invert(sorted((t / "irregular_3" / "masks").iterdir())[0]), "irregular_3/masks/"),
])
def test_a_test_set_that_does_not_verify_names_the_file(trip, tmp_path, capsys, damage, named):
    outputs, tests = copy_inputs(trip, tmp_path)
    damage(tests)
    code, err = score_cli(outputs, tests, tmp_path, capsys)
    assert code == 2 and named in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()
