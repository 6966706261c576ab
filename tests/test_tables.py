"""Tests for bench.tables and bench.audit on synthetic run folders (see conftest.make_run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import audit, tables
from tests.parity import PARITY

PAPER_TEXT = PARITY.parent / "paper" / "srpnet-paper.txt"

N_BOOT = 200


@pytest.fixture(scope="module")
def rows(bench_runs) -> pd.DataFrame:
    return tables.load_rows(list(bench_runs.values()))


@pytest.fixture(scope="module")
def paper() -> pd.DataFrame:
    return tables.load_paper()


@pytest.fixture(scope="module")
def built(rows, paper) -> dict[str, pd.DataFrame]:
    return tables.build_tables(rows, paper, n_boot=N_BOOT)


def raw_rows(run_dir: Path) -> pd.DataFrame:
    """A run's rows.csv read independently of bench.tables, latest checkpoint only."""
    frame = pd.read_csv(run_dir / "eval" / "rows.csv", dtype={"bucket": str, "image_id": str})
    return frame[frame["checkpoint"] == "step_0000040.pt"]


def one(frame: pd.DataFrame, **where) -> pd.Series:
    selected = frame
    for column, value in where.items():
        selected = selected[selected[column] == value]
    assert len(selected) == 1, f"expected one row for {where}, got {len(selected)}"
    return selected.iloc[0]


def test_load_rows_maps_sample_domains_and_keeps_latest_checkpoint(rows):
    assert set(rows.loc[rows["run_id"] == "srpnet-facade", "checkpoint"]) == {"step_0000040.pt"}
    sample = rows[rows["run_id"] == "glcic-sample"]
    assert set(sample["dataset"]) == {"dtd", "celeba-hq"}  # texture → dtd, face → celeba-hq
    assert set(sample["source"]) == {tables.SOURCE_SAMPLE}
    assert set(rows.loc[rows["run_id"] == "pennet-facade", "source"]) == {tables.SOURCE_FULL}


def test_table2_cells_are_our_means_beside_the_paper(built, bench_runs):
    table2 = built["table2"]
    raw = raw_rows(bench_runs["srpnet-facade"])
    centre = raw[raw["mask_setting"] == "center"]
    row = one(table2, dataset="facade", method="srpnet")
    assert row["n"] == len(centre) == 4
    assert row["l1_ours"] == pytest.approx(centre["l1_rel_pct"].mean())
    assert row["psnr_ours"] == pytest.approx(centre["psnr"].mean())
    assert row["msssim_ours"] == pytest.approx(centre["msssim_pct"].mean())
    assert row["l1_paper"] == 3.02 and row["psnr_paper"] == 23.22 and row["msssim_paper"] == 82.49
    assert row["l1_delta"] == pytest.approx(row["l1_ours"] - 3.02)
    for metric in tables.METRICS:
        assert row[f"{metric}_ci_low"] <= row[f"{metric}_ours"] <= row[f"{metric}_ci_high"]
        assert row[f"{metric}_ci_low"] < row[f"{metric}_ci_high"]
    assert row["status"] == tables.STATUS_OK and row["l1_variant"] == "l1_rel_pct"


def test_paper_rows_without_our_side_stay_as_not_run(built, paper):
    table2 = built["table2"]
    expected = paper[paper["table"] == "2"]
    for record in expected.itertuples():
        match = table2[(table2["dataset"] == record.dataset) & (table2["method"] == record.method)]
        assert len(match) >= 1 and (match["l1_paper"] == record.l1_pct).all()
    not_run = one(table2, dataset="places2", method="picnet")
    assert not_run["status"] == tables.STATUS_NOT_RUN and np.isnan(not_run["l1_ours"])
    assert not_run["psnr_paper"] == 22.64
    proxy = one(table2, dataset="dtd", method="srpnet")
    assert proxy["status"] == tables.STATUS_PROXY and proxy["run_id"] == "srpnet-sample"


def test_tables_without_any_run_keep_every_paper_row(paper):
    empty = tables.build_tables(tables.load_rows([]), paper, n_boot=N_BOOT)
    for spec in tables.TABLE_SPECS:
        frame = empty[spec.key]
        assert len(frame) == (paper["table"] == spec.key.removeprefix("table")).sum() > 0
        assert set(frame["status"]) == {tables.STATUS_NOT_RUN}
    assert empty["paired"].empty
    assert set(empty["table1"]["status"]) == {tables.STATUS_NOT_RUN}


def test_table3_pools_every_irregular_bucket(built, bench_runs):
    raw = raw_rows(bench_runs["pennet-facade"])
    irregular = raw[raw["mask_setting"] == "irregular"]
    row = one(built["table3"], dataset="facade", method="pennet")
    assert row["n"] == len(irregular) == 5 * 6
    assert row["psnr_ours"] == pytest.approx(irregular["psnr"].mean())
    assert row["bucket"] == "all" and row["psnr_paper"] == 31.98


def test_table3_delta_compares_like_with_like(built, bench_runs, paper):
    raw = raw_rows(bench_runs["pennet-facade"])
    first = raw[(raw["mask_setting"] == "irregular") & (raw["bucket"] == "[0.01,0.1]")]
    row = one(built["table3"], dataset="facade", method="pennet")
    # The paper's 0.58 / 31.98 / 97.60 are Table A4's first bucket, not a pooled mean.
    assert row["paper_definition"] == "bucket [0.01,0.1]"
    assert row["psnr_as_paper"] == pytest.approx(first["psnr"].mean())
    assert row["psnr_delta"] == pytest.approx(first["psnr"].mean() - 31.98)
    assert row["psnr_ours"] != pytest.approx(row["psnr_as_paper"])  # ours stays pooled
    definitions = audit.table3_definitions(paper).set_index(["dataset", "method"])["definition"]
    assert definitions[("facade", "picnet")] == definitions[("facade", "srpnet")] == "bucket [0.01,0.1]"
    assert definitions[("places2", "srpnet")] == definitions[("dtd", "glcic")] == audit.NO_DEFINITION
    unmatched = built["table3"][built["table3"]["paper_definition"] == audit.NO_DEFINITION]
    assert len(unmatched) >= 10 and unmatched["l1_delta"].isna().all()


def test_table3_mean_definition_uses_the_mean_of_our_bucket_means(rows, paper):
    """A paper row equal to the mean of its six buckets is matched to that definition."""
    edited = paper.copy()
    buckets = edited[(edited["table"] == "A4") & (edited["method"] == "pennet")]
    target = (edited["table"] == "3") & (edited["dataset"] == "facade") & (edited["method"] == "pennet")
    for column in audit.PAPER_METRICS:
        edited.loc[target, column] = buckets[column].mean()
    row = one(tables.build_tables(rows, edited, n_boot=N_BOOT)["table3"], dataset="facade",
              method="pennet")
    assert row["paper_definition"] == audit.MEAN_OF_BUCKETS
    ours = tables.aggregate(rows[rows["run_id"] == "pennet-facade"], n_boot=N_BOOT)
    means = ours[(ours["mask_setting"] == "irregular") & (ours["bucket"] != "all")]["psnr_ours"]
    assert len(means) == 6 and row["psnr_as_paper"] == pytest.approx(means.mean())


def test_per_bucket_tables_follow_the_paper_csv(built, bench_runs):
    a4 = built["tableA4"]
    assert set(a4["dataset"]) == {"facade"}
    ours = a4[a4["run_id"] == "srpnet-facade"]
    assert list(ours["bucket"]) == list(tables.BUCKET_ORDER[1:])
    raw = raw_rows(bench_runs["srpnet-facade"])
    last = raw[raw["bucket"] == "(0.5,0.6]"]
    row = one(a4, bucket="(0.5,0.6]", method="srpnet")
    assert row["l1_ours"] == pytest.approx(last["l1_rel_pct"].mean()) and row["l1_paper"] == 8.2
    assert set(built["table4"]["dataset"]) == {"celeba-hq"}
    assert set(built["tableA3"]["dataset"]) == {"dtd"}
    assert set(built["tableA5"]["dataset"]) == {"places2"}
    assert set(built["table4"].loc[built["table4"]["n"].notna(), "status"]) == {tables.STATUS_PROXY}


def test_table5_maps_ablation_names(built):
    table5 = built["table5"]
    baseline = one(table5, dataset="facade", paper_method="baseline")
    assert baseline["method"] == "srpnet-baseline" and baseline["run_id"] == "ablation-facade"
    assert baseline["l1_paper"] == 3.69 and baseline["status"] == tables.STATUS_OK
    residual = one(table5, dataset="facade", paper_method="+residual_blocks")
    assert residual["method"] == "srpnet" and residual["l1_paper"] == 3.36
    missing = one(table5, dataset="facade", paper_method="+discriminator")
    assert missing["status"] == tables.STATUS_NOT_RUN and missing["psnr_paper"] == 22.47
    assert "pennet" not in set(table5["method"])


def test_methods_the_paper_never_ran_join_the_comparison_tables(tmp_path, run_factory, paper):
    run = run_factory(tmp_path / "runs", "new", "newnet", "places2", center_only=True)
    built = tables.build_tables(tables.load_rows([run]), paper, n_boot=N_BOOT)
    row = one(built["table2"], method="newnet")
    assert row["dataset"] == "places2" and row["status"] == tables.STATUS_NOT_IN_PAPER
    assert np.isnan(row["l1_paper"]) and row["n"] == 4
    assert "newnet" not in set(built["table5"]["method"])
    assert len(built["table5"]) == (paper["table"] == "5").sum()


def test_mae_variant_replaces_the_l1_column(rows, paper, bench_runs):
    built = tables.build_tables(rows, paper, l1="mae_pct", n_boot=N_BOOT)
    raw = raw_rows(bench_runs["srpnet-facade"])
    row = one(built["table2"], dataset="facade", method="srpnet")
    assert row["l1_ours"] == pytest.approx(raw.loc[raw["mask_setting"] == "center", "mae_pct"].mean())
    assert set(built["table2"]["l1_variant"]) == {"mae_pct"}
    with pytest.raises(ValueError, match="'l1_pct'"):
        tables.build_tables(rows, paper, l1="l1_pct")


def test_paired_comparison_uses_only_shared_images(built, bench_runs):
    paired = built["paired"]
    row = one(paired, dataset="facade", mask_setting="center", baseline="pennet")
    a = raw_rows(bench_runs["srpnet-facade"])
    b = raw_rows(bench_runs["pennet-facade"])
    joined = a.merge(b, on=["image_id", "mask_id", "mask_setting", "bucket"], suffixes=("_a", "_b"))
    joined = joined[joined["mask_setting"] == "center"]
    assert row["n_pairs"] == len(joined) == 4  # PEN-Net's fifth image has no SRPNet partner
    assert row["l1_diff"] == pytest.approx((joined["l1_rel_pct_a"] - joined["l1_rel_pct_b"]).mean())
    assert row["l1_diff"] < 0 and row["psnr_diff"] > 0
    assert {row[f"{m}_verdict"] for m in tables.METRICS} == {"srpnet better"}
    pooled = one(paired, dataset="facade", mask_setting="irregular", bucket="all", baseline="pennet")
    assert pooled["n_pairs"] == 4 * 6
    worse = one(paired, dataset="dtd", mask_setting="center", baseline="glcic")
    assert worse["source"] == tables.SOURCE_SAMPLE
    assert set(paired["method"]) == {"srpnet"}
    assert {"pennet", "glcic", "srpnet-baseline"} == set(paired["baseline"])


def test_paired_verdict_reports_a_worse_reference(tmp_path, run_factory):
    root = tmp_path / "runs"
    runs = [run_factory(root, "s", "srpnet", "facade", quality=-1.0, center_only=True),
            run_factory(root, "p", "pennet", "facade", quality=0.0, center_only=True)]
    paired = tables.paired_comparison(tables.load_rows(runs), n_boot=N_BOOT)
    row = one(paired, mask_setting="center")
    assert {row[f"{m}_verdict"] for m in tables.METRICS} == {"srpnet worse"}


def test_bootstrap_is_seeded_and_sized_right():
    values = np.random.default_rng(1).normal(5.0, 2.0, size=(400, 2))
    low, high = tables.bootstrap_ci(values, n_boot=1000, seed=3)
    again = tables.bootstrap_ci(values, n_boot=1000, seed=3)
    other = tables.bootstrap_ci(values, n_boot=1000, seed=4)
    assert np.array_equal(low, again[0]) and np.array_equal(high, again[1])
    assert not np.array_equal(low, other[0])
    means = values.mean(axis=0)
    assert np.all(low < means) and np.all(means < high)
    expected_width = 2 * 1.96 * values.std(axis=0, ddof=1) / np.sqrt(len(values))
    assert np.allclose(high - low, expected_width, rtol=0.2)
    constant_low, constant_high = tables.bootstrap_ci(np.full(7, 2.5))
    assert constant_low[0] == constant_high[0] == 2.5


def test_table1_counts(rows):
    frame = tables.table1(rows, {"facade": {"train": 506, "test": 100}, "dtd": {"train": 4000}})
    facade_test = one(frame, dataset="facade", split="test", source=tables.SOURCE_FULL)
    assert facade_test["evaluated"] == 5 and facade_test["found"] == 100 and facade_test["paper"] == 100
    assert facade_test["status"] == "differs" and facade_test["delta"] == -95
    facade_train = one(frame, dataset="facade", split="train")
    assert facade_train["status"] == tables.STATUS_OK and facade_train["delta"] == 0
    assert one(frame, dataset="dtd", split="train")["delta"] == -512
    dtd_test = one(frame, dataset="dtd", split="test", source=tables.SOURCE_SAMPLE)
    assert dtd_test["evaluated"] == 4 and dtd_test["status"] == tables.STATUS_PROXY
    assert one(frame, dataset="places2", split="train")["status"] == tables.STATUS_NOT_RUN
    assert one(frame, dataset="masks", split="total")["paper"] == 12000


def test_audit_finds_the_papers_inconsistencies(paper):
    found = audit.audit_paper(paper)
    t5 = found[found["check"] == "table5_vs_table2"]
    facade_l1 = one(t5, dataset="facade", method="+residual_blocks", metric="l1_pct")
    assert facade_l1["flagged"] and facade_l1["value_a"] == 3.36 and facade_l1["value_b"] == 3.02
    assert not t5[(t5["dataset"] == "facade") & (t5["method"] == "baseline")]["flagged"].any()
    bucket = found[found["check"] == "table3_vs_bucket"]
    dtd_picnet = bucket[(bucket["dataset"] == "dtd") & (bucket["method"] == "picnet")]
    assert set(dtd_picnet["bucket"]) == {"[0.01,0.1]"} and set(dtd_picnet["table_b"]) == {"A3"}
    assert dict(zip(dtd_picnet["metric"], dtd_picnet["flagged"])) == {
        "l1_pct": False, "psnr": True, "msssim_pct": True}  # 0.82 vs 0.83; 31.14 and 95.83 equal
    repeated = found[found["check"] == "repeated_bucket_values"]
    assert set(zip(repeated["table_a"], repeated["method"], repeated["metric"])) == {
        ("A4", "glcic", "psnr"), ("A4", "glcic", "msssim_pct")}
    best = one(found, check="claim_paper_method_best", table_a="3", dataset="dtd", metric="l1_pct")
    assert best["flagged"] and best["note"].endswith("pennet")


def test_audit_finds_repeated_columns_and_the_citation_slip(paper):
    found = audit.audit_paper(paper)
    repeated = found[found["check"] == "repeated_across_tables"]
    assert set(zip(repeated["table_a"], repeated["table_b"], repeated["method"], repeated["metric"])) == {
        ("A5", "4", "pennet", "l1_pct")}
    assert list(repeated["value_a"]) == [0.49, 1.35, 2.46, 3.76, 5.42, 7.76]
    assert list(repeated["value_b"]) == [0.48, 1.34, 2.46, 3.76, 5.42, 7.76]
    slips = found[(found["check"] == "citation_numbers") & found["flagged"]]
    assert set(slips["table_a"]) == {"§4.1"} and len(slips) == 2
    assert set(slips["value_a"]) == {9} and set(slips["value_b"]) == {10}
    fixed = audit.load_citations()
    fixed.loc[fixed["number"] == 9, "number"] = 10
    fixed.loc[fixed["name"] == "context-encoders", "number"] = 9
    again = audit.audit_paper(paper, fixed)
    assert not again[again["check"] == "citation_numbers"]["flagged"].any()


def test_findings_give_one_plain_sentence_per_flagging_check(paper):
    found = audit.audit_paper(paper)
    sentences = audit.findings(found)
    flagging = [c for c in audit.CHECK_ORDER if found[found["check"] == c]["flagged"].any()]
    assert len(sentences) == len(flagging) == len(set(sentences))
    text = "\n".join(sentences)
    assert "Table A5's pennet l1_pct column (places2) repeats Table 4's (celeba-hq)" in text
    assert "§4.1 cites glcic as [9]" in text and "glcic is [10]" in text
    assert "in only 6 of 16 rows" in text


@pytest.mark.skipif(not PAPER_TEXT.is_file(), reason=f"paper text not found at {PAPER_TEXT}")
def test_citations_csv_is_read_off_the_paper_text():
    text = " ".join(PAPER_TEXT.read_text().split())
    for row in audit.load_citations().itertuples():
        assert row.context in text, row.context
        assert f"[{row.number}]" in row.context


def test_audit_is_computed_from_the_csv(paper):
    consistent = paper.copy()
    for dataset in ("facade", "celeba-hq"):
        same = consistent["dataset"] == dataset
        source = same & (consistent["table"] == "2") & (consistent["method"] == "srpnet")
        target = same & (consistent["table"] == "5") & (consistent["method"] == "+residual_blocks")
        for column in audit.PAPER_METRICS:
            consistent.loc[target, column] = consistent.loc[source, column].iloc[0]
    found = audit.audit_paper(consistent)
    t5 = found[found["check"] == "table5_vs_table2"]
    assert len(t5) == 12 and not t5["flagged"].any()


def test_write_tables_writes_each_csv_atomically(built, tmp_path):
    out = tmp_path / "tables"
    paths = tables.write_tables(built, out)
    assert set(paths) == {"table1", "table2", "table3", "table4", "tableA3", "tableA4", "tableA5",
                          "table5", "paired", "families", "audit"}
    back = pd.read_csv(paths["table2"], dtype={"bucket": str})
    assert len(back) == len(built["table2"])
    assert np.allclose(back["l1_paper"], built["table2"]["l1_paper"])
    tables.write_tables({"table2": built["table2"].head(3)}, out)
    assert len(pd.read_csv(out / "table2.csv")) == 3
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_bad_inputs_name_the_problem(tmp_path, run_factory):
    run = run_factory(tmp_path, "r", "srpnet", "facade", center_only=True)
    path = run / "eval" / "rows.csv"
    pd.read_csv(path).drop(columns=["psnr"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"rows\.csv: line 1: missing column\(s\) psnr"):
        tables.load_rows([run])
    odd = run_factory(tmp_path, "odd", "srpnet", "sample", domains=("underwater",), center_only=True)
    with pytest.raises(ValueError, match="'underwater'"):
        tables.load_rows([odd])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        tables.load_rows([tmp_path / "nowhere"])
