"""Supplied outputs are checked before they are scored (bench.known_pixels via bench.predictions):
BGR order, a flip, a grey image, a 16-bit file of 0–255 values, the input copied (holes left
unfilled) and outputs filed under another setting are refused in one line naming the cause,
unless --accept-changed-known, which the rows and the report then say; correct outputs pass; a
lossy (JPEG) copy of a correct output is refused as one, and so is a flipped one. NaN from a method's `inpaint` is refused by evaluate, validation and
`methods check`. A run of supplied outputs is shown as such, in its own colour, even once a
plugin of its name is installed; --name may not be a registered method's in any case."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import cli, evaluate, method_check, methods, predictions, runs, tables, testset, train
from bench.records import rows as rows_record
from bench.report import figures
from bench.report.build import build_report
from tests import toy_method

SETTINGS = "center,irregular_3"


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A sample test set (64², 5 images: two grey, three colour; two settings) and correct outputs for it: each input's
    holes filled by OpenCV's Telea."""
    root = tmp_path_factory.mktemp("export")
    assert cli.main(["testset", "export", "sample", str(root / "testset"), "--size", "64", "--count", "5",
                     "--masks", SETTINGS]) == 0
    tests = testset.read(root / "testset")
    for entry in tests.entries:
        given = np.asarray(Image.open(entry.path(tests.root, "input")).convert("RGB"))
        hole = (np.asarray(Image.open(entry.path(tests.root, "masks"))) > 127).astype(np.uint8)
        path = root / "good" / entry.setting / testset.file_name(entry.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(cv2.inpaint(given, hole, 3, cv2.INPAINT_TELEA)).save(path)
    return root


def variant(export: Path, tmp_path: Path, change) -> Path:
    """The correct outputs, each rewritten by change(path, pixels, entry, test set, their folder)."""
    folder = tmp_path / "outputs"
    tests = testset.read(export / "testset")
    for entry in tests.entries:
        source = export / "good" / entry.setting / testset.file_name(entry.id)
        target = folder / entry.setting / testset.file_name(entry.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        change(target, np.asarray(Image.open(source)), entry, tests, export / "good")
    return folder


def save(path, pixels, *_):
    Image.fromarray(np.ascontiguousarray(pixels)).save(path)


def jpeg(path, pixels, *_):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=75)
    Image.open(buffer).save(path)


def swapped(path, pixels, entry, tests, good):  # each setting's folder holds the other setting's outputs
    other = {"center": "irregular_3", "irregular_3": "center"}[entry.setting]
    shutil.copyfile(good / other / path.name, path)


CASES = {
    "bgr": (lambda p, x, *_: save(p, x[..., ::-1]), "channels in BGR order"),
    "flipped": (lambda p, x, *_: save(p, x[::-1]), "flipped vertically"),
    "grey": (lambda p, x, *_: save(p, np.asarray(Image.fromarray(x).convert("L"))), "grey while the truth is colour"),
    "16-bit": (lambda p, x, *_: cv2.imwrite(str(p), x[..., ::-1].astype(np.uint16)), "a 16-bit file holding 0–255 values"),
    "input copied": (lambda p, x, e, t, _: shutil.copyfile(e.path(t.root, "input"), p), "holes left unfilled"),
    "swapped settings": (swapped, "filed under the wrong setting"),
    "jpeg": (jpeg, "small changes all over its known pixels (a lossy copy such as JPEG"),
    "flipped jpeg": (lambda p, x, *_: jpeg(p, np.ascontiguousarray(x[::-1])), "flipped vertically"),
}


def score_cli(outputs, export, tmp_path, capsys, *extra, name="mine"):
    code = cli.main(["evaluate", "--predictions", str(outputs), "--name", name, "--testset", str(export / "testset"),
                     "--runs-root", str(tmp_path / "runs"), *extra])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def test_correct_outputs_pass_the_check(export, tmp_path, capsys):
    code, err, _ = score_cli(variant(export, tmp_path, save), export, tmp_path, capsys)
    assert code == 0, err
    known = pd.read_csv(tmp_path / "runs/mine-sample-64px-predictions/eval/known_pixels.csv")
    assert (known["check"] == "ok").all() and len(known) == 10


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_output_is_refused_naming_its_cause(export, tmp_path, capsys, case):
    change, cause = CASES[case]
    outputs = variant(export, tmp_path, change)
    code, err, _ = score_cli(outputs, export, tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert cause in err and "are not outputs of their test image" in err and "--accept-changed-known" in err
    named = re.search(r"\(first: ([^)]+)\)", err).group(1).split(", ")
    assert 1 <= len(named) <= predictions.FIRST
    assert all(Path(n).is_file() and Path(n).is_relative_to(outputs) for n in named)
    assert not (tmp_path / "runs").exists()  # nothing written


def test_a_lossy_copy_is_named_as_one_not_as_channel_order_or_a_flip(export, tmp_path, capsys):
    """The near-grey sample images' JPEG copies also match loosely when their channels are swapped:
    exact causes are tried first, then the lossy copy, and only then a lossy copy of a BGR one."""
    code, err, _ = score_cli(variant(export, tmp_path, jpeg), export, tmp_path, capsys)
    assert code == 2 and "a lossy copy such as JPEG" in err
    assert "BGR" not in err and "flipped" not in err, err


def test_accept_changed_known_scores_them_and_the_rows_and_report_say_so(export, tmp_path, capsys):
    outputs = variant(export, tmp_path, CASES["bgr"][0])
    code, err, _ = score_cli(outputs, export, tmp_path, capsys, "--accept-changed-known")
    assert code == 0 and "warning:" in err and "scored anyway (--accept-changed-known)" in err
    run = tmp_path / "runs/mine-sample-64px-predictions"
    found = rows_record.read_frame(run / "eval/rows.csv")
    assert len(found) == 10 and found["protocol"].str.contains(rows_record.SCORED_ANYWAY).all()
    card = json.loads((run / "method.json").read_text())
    assert re.fullmatch(r"\d+ of 10 outputs \(--accept-changed-known\)", card["protocol"][rows_record.SCORED_ANYWAY])
    known = pd.read_csv(run / "eval/known_pixels.csv")
    assert known["check"].str.startswith("channels in BGR order").any()
    html = build_report([run], tmp_path / "report").read_text()
    assert rows_record.SCORED_ANYWAY in html


# --- NaN from a method ---------------------------------------------------------------------------
@pytest.fixture
def nan_toy(tmp_path):
    """A toy run whose `inpaint` returns NaN once trained (its losses finite)."""
    with toy_method.registered():
        yield tmp_path


def test_evaluate_refuses_a_nan_prediction(nan_toy, capsys):
    cfg = toy_method.tiny_config("data.size=64", "train.iterations=2", "method.options.nan_output_after=0")
    run_dir = train.train(cfg, run_dir=nan_toy / "toy", progress=False)
    assert cli.main(["evaluate", str(run_dir), "--no-progress", "eval.masks=[center]"]) == 2
    err = capsys.readouterr().err
    assert "method 'toy': inpaint returned NaN or inf (" in err and "not scored" in err and err.count("\n") == 1
    assert not rows_record.read(runs.RunFolder(run_dir).rows_file)


def test_validation_stops_training_on_a_nan_prediction(nan_toy):
    cfg = toy_method.tiny_config("data.size=64", "train.iterations=4", "method.options.nan_output_after=0",
                                 "train.validate_every=2", "train.validate_count=2")
    with pytest.raises(evaluate.NonFiniteOutput, match=r"^validation at step 2, center: method 'toy': inpaint returned NaN"):
        train.train(cfg, run_dir=nan_toy / "toy", progress=False)
    manifest = runs.RunFolder(nan_toy / "toy").read_manifest()
    assert manifest.status == "failed" and manifest.error.startswith("validation at step 2")


def test_methods_check_fails_a_nan_prediction_during_the_fit(monkeypatch):
    monkeypatch.setitem(methods.REGISTRY, "toy-nan", methods.Entry(
        "tests.toy_method:build_plain", "a toy whose inpaint is NaN once trained", "#000000", {"nan_output_after": 0}))
    with pytest.raises(method_check.CheckFailed, match=r"^method 'toy-nan': inpaint returned NaN or inf \("):
        list(method_check.check("toy-nan", steps=2))


# --- names -------------------------------------------------------------------------------------
def plugin(name: str) -> methods.Entry:
    return methods.Entry("somewhere:build", f"a plugin ({name}-pkg 1.0)", methods.PLUGIN_COLOURS[0],
                         package=f"{name}-pkg", version="1.0")


@pytest.mark.parametrize("name", ["tinyfill", "TinyFill", "Telea"])
def test_a_name_of_a_plugin_or_a_built_in_in_any_case_is_refused(export, tmp_path, capsys, monkeypatch, name):
    monkeypatch.setitem(methods.REGISTRY, "tinyfill", plugin("tinyfill"))
    code, err, _ = score_cli(export / "good", export, tmp_path, capsys, name=name)
    assert code == 2 and f"--name {name!r} is a registered method ({name.lower()})" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_supplied_outputs_stay_labelled_and_coloured_as_such_once_a_plugin_takes_their_name(
        export, tmp_path, capsys, monkeypatch):
    code, err, _ = score_cli(export / "good", export, tmp_path, capsys, name="tinyfill")
    assert code == 0, err
    monkeypatch.setitem(methods.REGISTRY, "tinyfill", plugin("tinyfill"))  # installed afterwards
    run = tmp_path / "runs/tinyfill-sample-64px-predictions"
    shown = "tinyfill (supplied outputs)"
    assert set(tables.load_rows([run])["method"]) == {shown}
    colour = figures._colour(shown)
    assert colour == figures.SUPPLIED_COLOUR
    assert colour not in {e.colour for e in methods.BUILTINS.values()} | set(methods.PLUGIN_COLOURS)
    html = build_report([run], tmp_path / "report").read_text()
    assert shown in html and not re.search(r"tinyfill(?! \(supplied outputs\))[ <,.]", html.replace(
        "tinyfill-sample-64px-predictions", ""))
