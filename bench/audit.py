"""Consistency audit of the paper's own numbers, computed from results/paper/paper_tables.csv.

Each audit row compares one metric value of the paper with another value the paper implies it
should match (or beat), and sets `flagged` where the paper disagrees with itself or with its
text. Cross-table checks list every compared value; the pattern checks (repeated values,
non-monotonic buckets) list only what they flag.

Checks:
- table5_vs_table2: Table 5's baseline (= PEN-Net) and +residual_blocks (= SRPNet) rows should
  repeat Table 2's PEN-Net and SRPNet rows for the same dataset (flagged when they differ).
- table3_vs_bucket: the per-bucket row (Tables 4, A3–A5) closest to each Table 3 row; flagged
  where Table 3's value equals that single bucket's value (Table 3 claims all masks).
- table3_vs_bucket_mean: Table 3 against the mean of the six bucket values; with equal bucket
  sizes a pooled mean must match within rounding (0.01), flagged otherwise.
- repeated_bucket_values: one method with two or more identical metrics in two buckets.
- bucket_monotonic: a metric that improves from one bucket to the next larger one.
- claim_paper_method_best: SRPNet against the best other method (the text claims SRPNet leads).
- claim_ablation_improves: each Table 5 step (baseline → +discriminator → +residual_blocks)
  should not get worse (the text says the models "gradually improved").
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from bench import methods
from bench.data.masks import BUCKET_LABELS
from bench.metrics import PAPER_HIGHER_IS_BETTER as PAPER_METRICS  # paper column → higher is better
# Table 5 row → the Table 2 column that is the same network (baseline = PEN-Net, last row = SRPNet).
TABLE5_IN_TABLE2 = {
    row: methods.REGISTRY[name].paper_equivalent or name
    for row, name in methods.ABLATION.items()
    if methods.REGISTRY[name].paper_equivalent or methods.REGISTRY[name].in_paper_tables
}
ABLATION_STEPS = tuple(methods.ABLATION)
COMPARISON_TABLES = ("2", "3", "4", "A3", "A4", "A5")
REFERENCE = methods.REFERENCE
ROUNDING = 0.01
COLUMNS = ["check", "table_a", "table_b", "dataset", "method", "bucket", "metric",
           "value_a", "value_b", "difference", "flagged", "note"]


def _same(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, rtol=0.0, atol=1e-9))


def _record(check, table_a, table_b, dataset, method, bucket, metric, value_a, value_b,
            flagged, note) -> dict:
    return {"check": check, "table_a": table_a, "table_b": table_b, "dataset": dataset,
            "method": method, "bucket": bucket, "metric": metric, "value_a": float(value_a),
            "value_b": float(value_b), "difference": float(value_a) - float(value_b),
            "flagged": bool(flagged), "note": note}


def _bucket_tables(paper: pd.DataFrame) -> pd.DataFrame:
    return paper[(paper["mask"] == "irregular") & (paper["bucket"] != "all")]


def table5_vs_table2(paper: pd.DataFrame) -> list[dict]:
    out = []
    table2 = paper[paper["table"] == "2"].set_index(["dataset", "method"])
    for row in paper[paper["table"] == "5"].itertuples(index=False):
        partner = TABLE5_IN_TABLE2.get(row.method)
        if partner is None or (row.dataset, partner) not in table2.index:
            continue
        other = table2.loc[(row.dataset, partner)]
        for metric in PAPER_METRICS:
            a, b = getattr(row, metric), other[metric]
            out.append(_record("table5_vs_table2", "5", "2", row.dataset, row.method, "all",
                               metric, a, b, not _same(a, b),
                               f"Table 5 {row.method} is Table 2 {partner}"))
    return out


def table3_vs_buckets(paper: pd.DataFrame) -> list[dict]:
    out = []
    buckets = _bucket_tables(paper)
    for row in paper[paper["table"] == "3"].itertuples(index=False):
        same = buckets[(buckets["dataset"] == row.dataset) & (buckets["method"] == row.method)]
        if same.empty:
            continue
        values = same[list(PAPER_METRICS)].to_numpy(np.float64)
        target = np.array([getattr(row, m) for m in PAPER_METRICS])
        mismatches = (~np.isclose(values, target, rtol=0.0, atol=1e-9)).sum(axis=1)
        distance = np.abs(values - target).sum(axis=1)
        closest = same.iloc[int(np.lexsort((distance, mismatches))[0])]
        table = closest["table"]
        for i, metric in enumerate(PAPER_METRICS):
            a = target[i]
            b = closest[metric]
            equal = _same(a, b)
            note = (f"Table 3 value equals Table {table} bucket {closest['bucket']} alone" if equal
                    else f"closest bucket of Table {table}: {closest['bucket']}")
            out.append(_record("table3_vs_bucket", "3", table, row.dataset, row.method,
                               closest["bucket"], metric, a, b, equal, note))
            mean = values[:, i].mean()
            out.append(_record("table3_vs_bucket_mean", "3", table, row.dataset, row.method, "mean",
                               metric, a, mean, abs(a - mean) > ROUNDING,
                               f"mean of the {len(same)} bucket values of Table {table}"))
    return out


def repeated_bucket_values(paper: pd.DataFrame) -> list[dict]:
    out = []
    for (table, dataset, method), rows in _bucket_tables(paper).groupby(["table", "dataset", "method"]):
        for (_, first), (_, second) in combinations(rows.iterrows(), 2):
            equal = [m for m in PAPER_METRICS if _same(first[m], second[m])]
            if len(equal) < 2:
                continue
            for metric in equal:
                out.append(_record("repeated_bucket_values", table, table, dataset, method,
                                   f"{first['bucket']} vs {second['bucket']}", metric,
                                   first[metric], second[metric], True,
                                   f"{len(equal)} of 3 metrics identical in two buckets"))
    return out


def bucket_monotonic(paper: pd.DataFrame) -> list[dict]:
    out = []
    for (table, dataset, method), rows in _bucket_tables(paper).groupby(["table", "dataset", "method"],
                                                                         sort=False):
        ordered = rows.sort_values("bucket", key=lambda col: col.map(BUCKET_LABELS.index))
        for i in range(len(ordered) - 1):
            small, large = ordered.iloc[i], ordered.iloc[i + 1]
            for metric, higher in PAPER_METRICS.items():
                improves = large[metric] > small[metric] if higher else large[metric] < small[metric]
                if improves:
                    out.append(_record("bucket_monotonic", table, table, dataset, method,
                                       f"{small['bucket']} → {large['bucket']}", metric,
                                       small[metric], large[metric], True,
                                       "metric improves although the holes grow"))
    return out


def claim_paper_method_best(paper: pd.DataFrame) -> list[dict]:
    out = []
    rows = paper[paper["table"].isin(COMPARISON_TABLES)]
    for (table, dataset, bucket), group in rows.groupby(["table", "dataset", "bucket"], sort=False):
        ours = group[group["method"] == REFERENCE]
        others = group[group["method"] != REFERENCE]
        if ours.empty or others.empty:
            continue
        for metric, higher in PAPER_METRICS.items():
            best = others.loc[others[metric].idxmax() if higher else others[metric].idxmin()]
            a, b = ours[metric].iloc[0], best[metric]
            beaten = a < b if higher else a > b
            out.append(_record("claim_paper_method_best", table, table, dataset, REFERENCE, bucket,
                               metric, a, b, beaten, f"best other method: {best['method']}"))
    return out


def claim_ablation_improves(paper: pd.DataFrame) -> list[dict]:
    out = []
    table5 = paper[paper["table"] == "5"]
    for dataset, group in table5.groupby("dataset", sort=False):
        by_method = group.set_index("method")
        steps = [s for s in ABLATION_STEPS if s in by_method.index]
        for before, after in zip(steps, steps[1:]):
            for metric, higher in PAPER_METRICS.items():
                a, b = by_method.loc[after, metric], by_method.loc[before, metric]
                worse = a < b if higher else a > b
                out.append(_record("claim_ablation_improves", "5", "5", dataset, after, "all",
                                   metric, a, b, worse, f"{after} against {before}"))
    return out


CHECKS = (table5_vs_table2, claim_ablation_improves, claim_paper_method_best, repeated_bucket_values,
          bucket_monotonic, table3_vs_buckets)
# Rows are listed in this order: the specific findings first, the broad Table 3 checks last.
CHECK_ORDER = ("table5_vs_table2", "claim_ablation_improves", "claim_paper_method_best",
               "repeated_bucket_values", "bucket_monotonic", "table3_vs_bucket", "table3_vs_bucket_mean")


def audit_paper(paper: pd.DataFrame) -> pd.DataFrame:
    """All checks on the paper's table CSV (as loaded by `bench.tables.load_paper`)."""
    records = []
    for check in CHECKS:
        records += check(paper)
    frame = pd.DataFrame(records, columns=COLUMNS)
    order = {name: i for i, name in enumerate(CHECK_ORDER)}
    return frame.sort_values("check", key=lambda col: col.map(order), kind="stable").reset_index(drop=True)
