"""Tests for bench.report: the HTML itself, and the page as headless Chromium renders it (its
order, the samples' domains, and that every table fits its box at 1,280 px).

The browser test needs the Debian package `chromium` (`apt-get update && apt-get install -y
chromium`); without it the test fails, unless INPAINT_BENCH_NO_BROWSER=1 says to skip it.
"""

from __future__ import annotations

import csv
import json
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
from bench.coverage import IncompleteError
from bench.report.results import PARTIAL_BANNER, SAMPLE_BANNER, SMOKE_BANNER
from bench.runs import RunFolder

N_BOOT = 100
TABLE_KEYS = ("runs", "table1", "table2", "table3", "table4", "tableA3", "tableA4", "tableA5",
              "table5", "paired", "audit-summary", "audit-flagged", "audit")
# Sample grids of the bench_runs fixture: facade, and the sample set's texture and face domains.
GRIDS = 3
# Images: the headline figure + 3 bucket plots (Places2 has no row of ours) + 5 loss figures +
# grid cells. Facade: 2 images × (centre: truth, input, pennet, srpnet-baseline, srpnet; the
# smallest and the largest bucket: 4, srpnet-baseline ran centre only); each sample domain:
# 1 image × 3 settings × (truth, input, glcic, srpnet).
IMAGES = 1 + 3 + 5 + 2 * (5 + 4 + 4) + 2 * 3 * 4
SECTIONS = ["headline", "samples", "plots", "curves", "losses", "tables", "paired", "audit", "runs", "protocol"]


@pytest.fixture(scope="module")
def paper_findings() -> list[str]:
    return audit.findings(audit.audit_paper(tables.load_paper()))


@pytest.fixture(scope="module")
def report(bench_runs, tmp_path_factory) -> Path:
    """One report of all five synthetic runs, shared by this module's tests (read only)."""
    return build_report(list(bench_runs.values()), tmp_path_factory.mktemp("report"), n_boot=N_BOOT)


def table_block(html: str, key: str) -> str:
    match = re.search(rf'<table class="data" data-table="{re.escape(key)}">(.*?)</table>', html, re.S)
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
    assert html.count('<table class="data"') == len(TABLE_KEYS)
    assert html.count('<table class="grid"') == GRIDS
    for key in TABLE_KEYS:
        table_block(html, key)
    assert SMOKE_BANNER in html and "srpnet-sample, glcic-sample" in html
    assert SAMPLE_BANNER in html
    assert "residual block layout is our reading of the paper." in html  # method.json departures
    assert "glcic_postprocess" in html and "mask seed 7" in html  # method.json and config.yaml
    assert "ColorJitter(0.05), after the resize (PEN-Net: before)" in html  # data departure
    assert "0123456789ab (dirty)" in html  # the manifest's git SHA and its dirty flag
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
    with pytest.raises(IncompleteError, match=r"only: not evaluated .* or give --partial"):
        build_report([run], tmp_path / "out", n_boot=N_BOOT)
    assert not (tmp_path / "out").exists()
    path = build_report([run], tmp_path / "out", n_boot=N_BOOT, title="Only a training run",
                        data_counts={"facade": {"train": 500}}, partial=True)
    html = path.read_text()
    assert f"{PARTIAL_BANNER}: {run}: not evaluated" in html
    assert "<title>Only a training run</title>" in html
    facade_train = row_with(table_block(html, "table1"), '>facade</td><td class="">train<')
    assert ">500<" in facade_train and "differs" in facade_train
    assert SMOKE_BANNER not in html and SAMPLE_BANNER not in html
    assert "not run" in table_block(html, "table2")
    assert len(re.findall(r'src="data:image/png', html)) == 1  # the loss figure: no result to plot
    assert "Nothing in this report was evaluated" in html
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
    assert dom.count("<img src=") == IMAGES
    assert len(re.findall(r'data-table="[^"]+"', dom)) == len(TABLE_KEYS)
    assert dom.count('class="banner"') == 2 and SMOKE_BANNER in dom
    assert re.findall(r'<section id="([^"]+)"', dom) == SECTIONS


# Appended to a copy of the page: opens every folded table, then records where things are.
PROBE = """<script>
window.addEventListener("load", () => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const top = (e) => Math.round(e.getBoundingClientRect().top + window.scrollY);
  const picture = document.querySelector("img[src]");
  const sample = document.querySelector("table.grid img"), zoom = document.getElementById("zoom");
  sample.click();
  const enlarged = !zoom.hidden && zoom.querySelector("img").src === sample.src;
  zoom.click();
  const found = {
    zoom: [enlarged, zoom.hidden],
    sections: [...document.querySelectorAll("section")].map((s) => [s.id, top(s)]),
    picture: [picture.closest("section").id, top(picture)],
    table: top(document.querySelector("table.data")),
    grids: [...document.querySelectorAll("table.grid")].map(
      (g) => [g.dataset.grid, g.querySelectorAll("img[src]").length]),
    widths: [...document.querySelectorAll("table.data, table.grid")].map(
      (t) => [t.dataset.table || t.dataset.grid, t.getBoundingClientRect().width,
              t.parentElement.clientWidth]),
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.append(out);
});
</script>"""


def probe(report: Path, tmp_path: Path, width: int, *, print_rules: bool = False) -> dict:
    """The PROBE's findings on the page at `width` px (with the print stylesheet's rules applied
    on screen when `print_rules`)."""
    page = report.read_text()
    if print_rules:
        page = page.replace("@media print", "@media all")
    copy = tmp_path / f"probe-{width}-{print_rules}.html"
    copy.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = run_chromium(chromium(), tmp_path / f"profile-{width}-{print_rules}", f"--window-size={width},1000",
                       "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()).stdout
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, "the probe did not run"
    return json.loads(html_unescape(match.group(1)))


def too_wide(found: dict) -> list:
    assert len(found["widths"]) == len(TABLE_KEYS) + GRIDS
    return [(key, width, box) for key, width, box in found["widths"] if width > box + 0.5]


def test_page_reads_top_down_shows_every_domain_and_every_table_fits(report, bench_runs, tmp_path):
    found = probe(report, tmp_path, 1280)
    where = dict(found["sections"])
    # Headline first (with the first picture), then the pictures, then the tables.
    assert [name for name, _ in sorted(found["sections"], key=lambda s: s[1])] == SECTIONS
    assert found["picture"][0] == "headline" and found["picture"][1] < where["samples"]
    assert where["losses"] < found["table"]
    # Every domain (and every dataset) the runs evaluated has a grid with pictures.
    evaluated = set()
    for run in bench_runs.values():
        for row in csv.DictReader(open(RunFolder(run).rows_file)):
            evaluated.add(row["domain"] or row["dataset"])
    assert evaluated == {"facade", "texture", "face"}
    assert {key for key, images in found["grids"] if images} == evaluated
    assert found["zoom"] == [True, True]  # a click on a sample enlarges it, a second click closes it
    # No table wider than its box at 1,280 px (folded ones opened), nor on an A4 landscape page
    # (1,047 px between its 10 mm margins) under the print stylesheet.
    assert not too_wide(found), f"wider than their box at 1,280 px (key, width, box): {too_wide(found)}"
    printed = probe(report, tmp_path, 1047, print_rules=True)
    assert not too_wide(printed), f"wider than an A4 landscape page: {too_wide(printed)}"
