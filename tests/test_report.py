"""Tests for bench.report: the HTML itself, and the page as headless Chromium renders it.

The browser test needs the Debian package `chromium` (`apt-get update && apt-get install -y
chromium`); without it the test fails, unless INPAINT_BENCH_NO_BROWSER=1 says to skip it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html import unescape as html_unescape
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import audit, tables
from bench.report import build_report
from bench.report.results import SAMPLE_BANNER, SMOKE_BANNER
from bench.runs import RunFolder

N_BOOT = 100
TABLE_KEYS = ("runs", "table1", "table2", "table3", "table4", "tableA3", "tableA4", "tableA5",
              "table5", "paired", "audit-summary", "audit-flagged", "audit")
# Sample grids of the bench_runs fixture: facade (centre, irregular) and sample/texture (centre,
# irregular); the face domain saved no samples.
GRIDS = 4
# Images: 4 bucket plots + 5 loss figures + grid cells. Facade: 2 centre rows × (truth, input,
# pennet, srpnet-baseline, srpnet) + 6 bucket rows × 4 (srpnet-baseline ran centre only);
# texture: 2 × 4 + 6 × 4 (truth, input, glcic, srpnet).
IMAGES = 4 + 5 + (2 * 5 + 6 * 4) + (2 * 4 + 6 * 4)


@pytest.fixture(scope="module")
def paper_findings() -> list[str]:
    return audit.findings(audit.audit_paper(tables.load_paper()))


@pytest.fixture(scope="module")
def report(bench_runs, tmp_path_factory) -> Path:
    """One report of all five synthetic runs, shared by this module's tests (read only)."""
    return build_report(list(bench_runs.values()), tmp_path_factory.mktemp("report"), n_boot=N_BOOT)


def table_block(html: str, key: str) -> str:
    match = re.search(rf'<table class="data[^"]*" data-table="{re.escape(key)}">(.*?)</table>', html, re.S)
    assert match, f"table {key} not in the report"
    return match.group(1)


def row_with(block: str, text: str) -> str:
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", block, re.S) if text in r]
    assert len(rows) == 1, f"expected one row with {text!r}, got {len(rows)}"
    return rows[0]


def test_report_is_self_contained_and_complete(report, bench_runs):
    html = report.read_text()
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == IMAGES
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:|file:|//)', html)
    assert html.count('<table class="data') == len(TABLE_KEYS)
    assert html.count('<table class="grid"') == GRIDS
    for key in TABLE_KEYS:
        table_block(html, key)
    assert SMOKE_BANNER in html and "srpnet-sample, glcic-sample" in html
    assert SAMPLE_BANNER in html
    assert "residual block layout is our reading of the paper." in html  # method.json departures
    assert "glcic_postprocess" in html and "mask seed 7" in html  # method.json and config.yaml
    assert "ColorJitter(0.05), after the resize (PEN-Net: before)" in html  # data departure
    assert "0123456789ab" in html  # the manifest's git SHA
    assert sorted(p.name for p in report.parent.iterdir()) == ["losses", "report.html", "results.json",
                                                               "samples", "tables"]
    assert not list(report.parent.rglob(".*.tmp"))  # no temporary left


def test_best_values_are_bold_and_deltas_coloured(report):
    table2 = table_block(report.read_text(), "table2")
    srpnet = row_with(table2, "srpnet-facade")
    pennet = row_with(table2, "pennet-facade")
    # SRPNet's synthetic rows beat PEN-Net's on every metric; the paper's facade best is SRPNet too.
    assert srpnet.count("<b>") == 6 and "<b>" not in pennet
    assert re.search(r'class="num (better|worse)"', srpnet)
    not_run = row_with(table2, '>places2</td><td class="method">picnet<')
    assert "not run" in not_run and "3.10" in not_run


def test_audit_section_leads_with_findings_and_table3_shows_the_papers_definition(report, paper_findings):
    html = report.read_text()
    audit_section = html[html.index('<section id="audit">'):]
    audit_section = audit_section[:audit_section.index("</section>")]
    items = re.findall(r"<li>(.*?)</li>", audit_section, re.S)
    assert [html_unescape(i.strip()) for i in items] == paper_findings
    assert audit_section.index("<li>") < audit_section.index('<table class="data')
    table3 = table_block(html, "table3")
    assert "Paper&#39;s definition" in table3 and "Δ like with like" in table3
    assert "all buckets pooled" in table3
    pennet = row_with(table3, "pennet-facade")
    assert "bucket [0.01,0.1]" in pennet


def test_single_run_without_evaluation(tmp_path, run_factory):
    run = run_factory(tmp_path / "runs", "only", "srpnet", "facade", center_only=True)
    shutil.rmtree(run / "eval")
    path = build_report([run], tmp_path / "out", n_boot=N_BOOT, title="Only a training run",
                        data_counts={"facade": {"train": 500}})
    html = path.read_text()
    assert "<title>Only a training run</title>" in html
    facade_train = row_with(table_block(html, "table1"), '>facade</td><td class="">train<')
    assert ">500<" in facade_train and "differs" in facade_train
    assert SMOKE_BANNER not in html and SAMPLE_BANNER not in html
    assert "not run" in table_block(html, "table2")
    assert len(re.findall(r'src="data:image/png', html)) == 4 + 1  # bucket plots + one loss figure
    assert RunFolder(run).read_manifest().run_id in table_block(html, "runs")


def test_report_rejects_a_missing_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        build_report([tmp_path / "absent"], tmp_path / "out")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("INPAINT_BENCH_NO_BROWSER") == "1":
        pytest.skip("INPAINT_BENCH_NO_BROWSER=1: browser check skipped")
    pytest.fail("chromium is not installed: run `apt-get update && apt-get install -y chromium` "
                "(or set INPAINT_BENCH_NO_BROWSER=1 to skip the browser check)")


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(report, tmp_path):
    binary = chromium()
    url = report.resolve().as_uri()
    shot = tmp_path / "report.png"
    done = run_chromium(binary, tmp_path / "profile-shot", f"--screenshot={shot}",
                        "--window-size=1280,2000", url)
    assert shot.is_file(), f"no screenshot; chromium said: {done.stderr[-2000:]}"
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (2000, 1280)
    assert pixels.var() > 200 and (pixels < 200).mean() > 0.02  # text and tables, not a blank page
    dom = run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", url).stdout
    assert dom.count("<table") == len(TABLE_KEYS) + GRIDS
    assert dom.count("<img") == IMAGES
    assert len(re.findall(r'data-table="[^"]+"', dom)) == len(TABLE_KEYS)
    assert dom.count('class="banner"') == 2 and SMOKE_BANNER in dom
    assert dom.count("<section") == 9  # learning curves included
