"""The unclear cases of issue 27 (point 6), each now one clear answer: a damaged or empty
validation.csv is named in its run folder, an empty config.yaml as an empty file, a damaged
mask-set manifest by its path; `evaluate --predictions` speaks as [evaluate] on its lock line and
names outputs saved in another format; `methods` fails when a plugin is broken; `status` says
what a folder that is no run is; the "metric versus bucket" figures show every legend entry."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from bench import cli, config, methods, testset
from bench.data import masks
from bench.records import reading
from bench.report import figures
from bench.data.masks import BUCKET_LABELS
from bench.tables import METRICS, SOURCE_SAMPLE

VALIDATION_HEADER = "step,setting,l1,psnr,msssim,spread,seconds\n"


def cli_line(capsys, *argv):
    """Exit status, stdout and stderr of one command."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def run(tmp_path, run_factory):
    return run_factory(tmp_path / "runs", "r", "srpnet", "facade", center_only=True)


# --- validation.csv and config.yaml ------------------------------------------------------------
def test_a_damaged_validation_csv_is_named_in_the_run_folder_and_nothing_is_written(run, tmp_path, capsys):
    (run / "validation.csv").write_text(VALIDATION_HEADER + "10,center,abc,20,80,3,1\n")
    code, _, err = cli_line(capsys, "report", run, "--out", tmp_path / "rep")
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {run / 'validation.csv'}: line 2: l1 'abc' is not a number"), err
    assert not (tmp_path / "rep").exists()


def test_an_empty_validation_csv_is_named_as_an_empty_file(run, tmp_path, capsys):
    (run / "validation.csv").write_bytes(b"")
    said = f"{run / 'validation.csv'}: empty file; "
    code, out, _ = cli_line(capsys, "status", run)
    assert code == 1 and out.startswith(f"{run}: unreadable — {said}"), out
    code, _, err = cli_line(capsys, "report", run, "--out", tmp_path / "rep")
    assert code == 2 and err.startswith(f"error: {said}"), err
    assert not (tmp_path / "rep").exists()


def test_a_validation_csv_without_a_complete_row_draws_no_learning_curve(run, tmp_path, capsys):
    (run / "validation.csv").write_text(VALIDATION_HEADER + "10,cen")  # killed in its first row
    code, _, err = cli_line(capsys, "report", run, "--out", tmp_path / "rep")
    assert code == 0, err
    assert "validation PSNR during training" not in (tmp_path / "rep" / "report.html").read_text()


@pytest.mark.parametrize("content, problem", [(b"", "empty file"), (b"  \n\n", "empty file"),
                                              (b"# nothing yet\n", "holds only comments, no keys")])
def test_an_empty_config_yaml_is_named_as_such(tmp_path, capsys, content, problem):
    given = tmp_path / "run.yaml"
    given.write_bytes(content)
    with pytest.raises(config.ConfigError, match=rf"^{given}: {problem}; "):
        config.load(given)  # was: every key its default, a training of the default method


def test_a_run_whose_config_yaml_is_empty_is_named_when_evaluated_reported_or_tabled(run, tmp_path, capsys):
    (run / "config.yaml").write_bytes(b"")
    for argv in (["evaluate", run], ["report", run, "--out", tmp_path / "rep"],
                 ["tables", run, "--out", tmp_path / "t"]):
        code, _, err = cli_line(capsys, *argv)
        assert code == 2 and err.startswith(f"error: {run / 'config.yaml'}: empty file; "), (argv, err)


# --- a mask set's manifest ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def mask_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("masks") / "set"
    masks.make_mask_set(out, 32, 1, seed=0)
    return out


def test_random_bytes_in_a_mask_manifest_name_the_file(mask_set, tmp_path, capsys):
    damaged = tmp_path / "set"
    shutil.copytree(mask_set, damaged)
    manifest = damaged / masks.MANIFEST
    manifest.write_bytes(bytes([0x8F, 0xFF, 0x00, 0xC3]) * 64)
    with pytest.raises(reading.RecordError, match=rf"^{manifest}: not UTF-8 text"):
        masks.test_masks("irregular", 32, bucket=0, count=1, mask_dir=damaged)
    code, out, err = cli_line(capsys, "masks", "make", damaged, "--size", 32, "--count", 1)
    assert code == 2 and not out and err.startswith(f"error: {manifest}: not UTF-8 text"), (out, err)
    assert len(masks.test_masks("irregular", 32, bucket=0, count=1, mask_dir=mask_set)) == 1  # the intact set


# --- evaluate --predictions --------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A two-image centre test set and outputs that are its truth images."""
    root = tmp_path_factory.mktemp("exported")
    testset.export(testset.protocol_config("sample", size=64, settings=["center"], count=2,
                                           cache_dir=root / "cache"), root / "testset")
    shutil.copytree(root / "testset" / "center" / "truth", root / "outputs" / "center")
    return root


def score(exported, outputs, tmp_path, capsys):
    return cli_line(capsys, "evaluate", "--predictions", outputs, "--name", "mine",
                    "--testset", exported / "testset", "--runs-root", tmp_path / "runs")


def test_evaluate_predictions_says_evaluate_on_its_lock_line(exported, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "mine-sample-64px-predictions"
    run_dir.mkdir(parents=True)
    (run_dir / ".lock").write_text(json.dumps({"pid": 999999, "host": "gone", "since": "then"}))
    code, _, err = score(exported, exported / "outputs", tmp_path, capsys)
    assert code == 0, err
    lines = [line for line in err.splitlines() if "stale lock" in line]
    assert len(lines) == 1 and lines[0].startswith(f"[evaluate] {run_dir / '.lock'}: took over a stale lock"), err
    assert "[train]" not in err


@pytest.mark.parametrize("suffix, save_as", [(".jpg", "JPEG"), (".PNG", "PNG")])
def test_an_output_in_another_format_or_case_is_named_as_such_not_as_missing(exported, tmp_path, capsys,
                                                                          suffix, save_as):
    outputs = tmp_path / "outputs"
    shutil.copytree(exported / "outputs", outputs)
    first = sorted((outputs / "center").iterdir())[0]
    other = first.with_suffix(suffix)
    Image.open(first).save(other, format=save_as)
    first.unlink()
    code, _, err = score(exported, outputs, tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert f"1 of 2 outputs in another format or name: expected PNG named {first.name}, found {other.name} " \
           f"(first: {other})" in err and "missing" not in err, err
    assert not (tmp_path / "runs").exists()


# --- methods -----------------------------------------------------------------------------------
BROKEN = methods.Entry("not_installed_module:build", "a broken plugin (plugin: broken-pkg 1.0)", "#000000",
                       package="broken-pkg", version="1.0")


def test_methods_exits_non_zero_naming_a_broken_plugin_and_lists_the_others(monkeypatch, capsys):
    monkeypatch.setitem(methods.REGISTRY, "broken", BROKEN)
    code, out, err = cli_line(capsys, "methods", "mean-fill", "broken")
    assert code == 1, (out, err)
    assert "parameters (256 px): none" in out  # mean-fill still listed and built
    assert "error: plugin 'broken' of broken-pkg 1.0: cannot load not_installed_module:build" in out
    assert err == "error: 1 broken (see above): broken\n"


def test_methods_exits_non_zero_when_a_plugin_could_not_be_registered(monkeypatch, capsys):
    problem = "plugin 'srpnet' of shadow-pkg 1.0: may not take the built-in method's name; ignored"
    monkeypatch.setattr(methods, "PLUGIN_PROBLEMS", [problem])
    code, out, err = cli_line(capsys, "methods", "--no-build")
    assert code == 1 and "srpnet" in out and "telea" in out
    assert err == f"error: {problem}\nerror: 1 broken (see above): plugin 'srpnet' of shadow-pkg 1.0\n"
    monkeypatch.setattr(methods, "PLUGIN_PROBLEMS", [])
    assert cli_line(capsys, "methods", "--no-build")[0] == 0


# --- status on a folder that is no run ---------------------------------------------------------
def test_status_says_what_a_folder_that_is_no_run_is(run, exported, mask_set, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli_line(capsys, "report", run, "--out", tmp_path / "rep")
    assert code == 0, err
    expected = {
        empty: "an empty folder, not a run folder",
        tmp_path / "rep": "a report folder (written by `report`), not a run folder",
        exported / "testset": "a test-set export (written by `testset export`), not a run folder",
        mask_set: "a mask set (written by `masks make`), not a run folder",
        run.parent: f"a folder of 1 run(s), not a run: use status on one of them (r), or on all: status {run.parent}/*",
        tmp_path / "absent": "no such folder",
        run / "config.yaml": "a file, not a run folder",
    }
    for folder, said in expected.items():
        code, out, _ = cli_line(capsys, "status", folder)
        assert code == 1 and out.startswith(f"{folder}: {said}") and out.count("\n") == 1, out
    assert cli_line(capsys, "status", run)[:2] == (0, f"{run}: finished\n")


# --- the metric-versus-bucket figures' legends ---------------------------------------------------
def bucket_table(run_prefix: str) -> pd.DataFrame:
    """A per-bucket table as bench.tables builds it: the paper's four methods (dashed) and five
    runs with long ids on the sample stand-in (solid)."""
    found = []
    for k, method in enumerate(("picnet", "glcic", "pennet", "srpnet", "telea")):
        for b, bucket in enumerate(BUCKET_LABELS):
            row = {"method": method, "run_id": f"{run_prefix}{method}-sample-256px-seed0", "bucket": bucket,
                   "source": SOURCE_SAMPLE, "l1_variant": "l1_rel_pct"}
            for metric in METRICS:
                row[f"{metric}_ours"] = 10.0 + k + b
                row[f"{metric}_paper"] = 12.0 + k + b if method != "telea" else float("nan")
            found.append(row)
    return pd.DataFrame(found)


def test_every_line_of_a_bucket_figure_has_a_legend_entry_inside_the_saved_figure(monkeypatch):
    drawn = []
    save = figures.png_bytes
    monkeypatch.setattr(figures, "png_bytes", lambda figure: drawn.append(figure) or save(figure))
    # ids of a profile's runs (uniform-recipe-…): four columns of them are wider than the figure
    figures.bucket_figure(bucket_table("uniform-recipe-"), "Table 4: irregular masks per bucket, CelebA-HQ")
    figure = drawn[0]
    canvas = FigureCanvasAgg(figure)  # closed after saving: drawn again as it was saved
    canvas.draw()
    renderer = canvas.get_renderer()
    inside = figure.bbox.expanded(1.001, 1.001)

    def within(artist) -> bool:
        box = artist.get_window_extent(renderer)
        return inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)

    (legend,) = figure.legends
    entries = {text.get_text(): handle for text, handle in zip(legend.get_texts(), legend.legend_handles)}
    lines = {line.get_label() for ax in figure.axes for line in ax.get_lines()}
    assert len(lines) == 9 and lines == set(entries)
    clipped = [label for label, handle in entries.items() if not within(handle)]
    clipped += [text.get_text() for text in legend.get_texts() if not within(text)]
    assert not clipped, f"legend entries outside the saved figure: {clipped}"
