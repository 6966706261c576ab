"""Results as data first: the report stage writes a report folder (results.json, tables/*.csv,
copied samples and losses) and the HTML is drawn from that folder alone, so it is rebuilt the
same after the run folders are gone."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from bench import cli, tables, train
from bench.evaluate import evaluate
from bench.records.run_folder import read_run_folder
from bench.report import build_report, render
from bench.report.results import ReportFolder
from tests import toy_method

N_BOOT = 50


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    """Two real toy runs on the sample set at 64² (trained two steps, evaluated, samples saved)."""
    root = tmp_path_factory.mktemp("runs")
    with toy_method.registered():
        made = []
        for run_id, seed in (("toy-a", 1), ("toy-b", 2)):
            cfg = toy_method.tiny_config("data.size=64", "train.iterations=2", f"run.id={run_id}",
                                         f"train.seed={seed}")
            run_dir = train.train(cfg, run_dir=root / run_id, progress=False)
            evaluate(run_dir, overrides=["eval.masks=[center, irregular_5]"], progress=False)
            made.append(run_dir)
        return made


def test_the_run_folder_record_reads_exact_keys(toy_runs):
    record = read_run_folder(toy_runs[0])
    assert (record.run_id, record.method, record.dataset) == ("toy-a", "toy", "sample")
    assert record.setting("data.size") == 64 and record.setting("train.iterations") == 2
    assert record.setting("size") is None  # exact dotted keys only, no search at any depth
    assert record.provenance == {"kind": "trained", "recipe": None}
    assert record.rows_file.is_file() and record.sample_folders()
    assert set(record.losses.columns) >= {"step", "name", "value"}


def test_report_folder_holds_everything_and_rerenders_without_the_runs(toy_runs, tmp_path):
    runs = [shutil.copytree(run, tmp_path / "runs" / run.name) for run in toy_runs]
    out = tmp_path / "report"
    first = build_report(runs, out, n_boot=N_BOOT, title="toy report").read_text()
    folder = ReportFolder(out)
    results = json.loads(folder.results_file.read_text())
    assert results["title"] == "toy report" and results["l1"] == tables.DEFAULT_L1
    assert [r["run_id"] for r in results["runs"]] == ["toy-a", "toy-b"]
    assert results["runs"][0]["manifest"]["provenance"] == {"kind": "trained", "recipe": None}
    assert results["runs"][0]["card"]["departures"] == read_run_folder(runs[0]).card["departures"]
    # every table is in results.json and in tables/<key>.csv with the same rows
    for key, table in results["tables"].items():
        csv = pd.read_csv(folder.tables_dir / f"{key}.csv")
        assert list(csv.columns) == list(table["columns"]) and len(csv) == len(table["rows"])
    ours = [r for r in results["tables"]["table2"]["rows"] if r["run_id"] == "toy-a"]
    assert ours and all(r["psnr_ci_low"] <= r["psnr_ours"] <= r["psnr_ci_high"] for r in ours)
    assert any(r["psnr_paper"] is not None for r in results["tables"]["table2"]["rows"])
    assert results["findings"]
    assert sorted(p.name for p in folder.samples_dir("toy-a").rglob("*.png"))
    assert folder.losses_file("toy-b").is_file()

    for run in runs:
        shutil.rmtree(run)
    folder.html_file.unlink()
    assert cli.main(["report", "--from", str(out)]) == 0
    again = folder.html_file.read_text()
    assert again == first
    images = re.findall(r'src="(data:image/png;base64,[^"]*)"', again)
    # the headline, the bucket plot of DTD (texture's stand-in) and the texture grid: centre and
    # the one bucket × (truth, input, toy-a, toy-b); two steps log one loss value each: text
    assert len(images) == 1 + 1 + 2 * 4
    assert "toy-a (toy): one value throughout, not drawn: hole_l1 = " in again
    assert again.count('<table class="grid"') == 1


def test_rerender_needs_a_report_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.json: not found"):
        render(tmp_path)
    with pytest.raises(SystemExit, match="not both"):
        cli.main(["report", str(tmp_path), "--from", str(tmp_path)])


def test_one_run_reports_into_its_report_subfolder(toy_runs, tmp_path):
    run = shutil.copytree(toy_runs[0], tmp_path / "toy-a")
    assert cli.main(["report", str(run)]) == 0
    assert (run / "report" / "report.html").is_file() and (run / "report" / "results.json").is_file()
    assert not (run / "results.json").exists()  # nothing written beside the run's own files
