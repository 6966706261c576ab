"""The report reads top-down: its headline sentences (computed, stored in results.json), names
that say what was measured, the paper's columns only where a row compares with it, folded long
tables and honest loss captions."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from bench import reproduce, tables
from bench.report import build_report, figures
from bench.report.results import table_frame

N_BOOT = 100


@pytest.fixture(scope="module")
def sample_only(bench_runs, tmp_path_factory):
    """A report of the two sample-set runs alone: nothing in it compares with the paper."""
    runs = [bench_runs["srpnet-sample"], bench_runs["glcic-sample"]]
    return build_report(runs, tmp_path_factory.mktemp("sample-report"), n_boot=N_BOOT)


@pytest.fixture(scope="module")
def everything(bench_runs, tmp_path_factory):
    return build_report(list(bench_runs.values()), tmp_path_factory.mktemp("report"), n_boot=N_BOOT)


def results(report) -> dict:
    return json.loads((report.parent / "results.json").read_text())


def table(html: str, key: str) -> str:
    return re.search(rf'<table class="data" data-table="{key}">(.*?)</table>', html, re.S).group(1)


def test_headline_sentences_are_computed_from_the_tables(sample_only):
    data = results(sample_only)
    sentences = data["headline"]
    assert 3 <= len(sentences) <= 5
    # srpnet's synthetic runs beat glcic's on every image: it leads in all 4 settings (2 domains ×
    # centre and irregular pooled), each lead as the tables give it.
    assert sentences[0] == ("By mean PSNR, the leader is srpnet in 4 of the 4 dataset × mask settings "
                            "with more than one method.")
    leads = []
    for key in ("table2", "table3"):
        frame = table_frame(data["tables"][key]).dropna(subset=["n"])
        for dataset, rows in frame.groupby("dataset"):
            psnr = rows.set_index("method")["psnr_ours"]
            leads.append(psnr["srpnet"] - psnr["glcic"])
    assert f"srpnet's {max(leads):.2f} dB over glcic" in sentences[1]
    assert f"srpnet's {min(leads):.2f} dB over glcic" in sentences[1]
    paired = table_frame(data["tables"]["paired"])
    pooled = paired[paired["bucket"] == "all"]
    better = (pooled["psnr_verdict"] == "srpnet better").sum()
    assert len(pooled) == 4 and better >= 3
    assert f"significantly higher than the other method's in {better} of 4 comparisons" in sentences[2]
    assert sentences[3].startswith("None of our ") and "sample set's stand-ins" in sentences[3]
    html = sample_only.read_text()
    head = html[html.index('<section id="headline">'):html.index('<section id="samples">')]
    assert head.count('<img src="data:image/png') == 1
    assert all(s.replace("'", "&#39;") in head for s in sentences)


def test_comparable_rows_are_counted_against_the_paper(everything):
    data = results(everything)
    centre = table_frame(data["tables"]["table2"])
    ok = centre[centre["status"] == tables.STATUS_OK]
    assert len(ok) == 2  # srpnet and pennet on facade
    assert (f"on the centre mask our PSNR is {ok['psnr_delta'].mean():+.2f} dB from the paper's on "
            "average over 2 rows") in data["headline"][-1]


def test_sample_rows_say_what_was_measured_and_hide_the_papers_columns(sample_only):
    html = sample_only.read_text()
    centre = table(html, "table2")
    assert centre.count("sample · texture (stand-in for DTD)") == 2
    assert centre.count("sample · face (stand-in for CelebA-HQ)") == 2
    assert ">paper<" not in centre and ">Δ<" not in centre and "not run" not in centre
    assert "sample · texture (stand-in for DTD)" in table(html, "paired")
    assert "sample · texture (stand-in for DTD)" in table(html, "table1")
    assert re.search(r'<table class="grid" data-grid="texture"[^>]*>\s*'
                     r'<caption>sample · texture \(stand-in for DTD\)', html)
    # Folded: the per-bucket tables, the paired table and the long audit tables, each under one line.
    folded = re.findall(r'<details data-folded="([^"]+)"><summary>([^<]+)</summary>', html)
    assert [key for key, _ in folded] == ["table4", "tableA3", "tableA4", "tableA5", "paired",
                                          "audit-flagged", "audit"]
    assert dict(folded)["tableA3"] == ("Table A3: irregular masks per bucket, DTD: 12 row(s) of ours, "
                                       "0 comparable with the paper")  # 2 runs × 6 buckets


def test_the_terminal_summary_names_the_stand_ins(bench_runs):
    said = reproduce.summary(tables.load_rows(list(bench_runs.values())), tables.DEFAULT_L1)
    assert "sample · texture (stand-in for DTD)" in said and "sample · face (stand-in for CelebA-HQ)" in said
    assert not re.search(r"^dtd|^celeba-hq", said, re.M)
    assert re.search(r"^facade ", said, re.M)


def test_a_comparable_table_keeps_the_papers_columns(everything):
    centre = table(everything.read_text(), "table2")
    assert ">paper<" in centre and ">Δ<" in centre and "not run" in centre


def losses(points: int) -> pd.DataFrame:
    steps = list(range(0, 10 * points, 10))
    return pd.DataFrame({"step": steps * 2, "name": ["gen_l1"] * points + ["lr"] * points,
                         "value": [1.0 / (1 + s) for s in steps] + [1e-4] * points})


def test_loss_caption_says_what_is_drawn_and_constant_series_are_text():
    few = figures.loss_figure(losses(6), "run-a (srpnet)")
    assert few.png is not None
    assert few.caption == ("run-a (srpnet): values as logged (too few points for a moving mean); "
                           "one value throughout, not drawn: lr = 0.0001, from losses.csv.")
    many = figures.loss_figure(losses(100), "run-b (srpnet)")
    assert "a moving mean over 4 logged values (dark)" in many.caption
    flat = figures.loss_figure(losses(6)[lambda f: f["name"] == "lr"], "run-c (srpnet)")
    assert flat.png is None
    assert flat.caption == ("run-c (srpnet): one value throughout, not drawn: lr = 0.0001, "
                            "from losses.csv.")
