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
- table3_definition: which definition each Table 3 row's numbers match (`table3_definitions`:
  one bucket of Tables 4, A3–A5, or the mean of the six buckets); flagged where none matches.
- repeated_across_tables: one metric column (six buckets) of a per-bucket table repeating the
  same column of another table (another dataset) in three or more buckets; every bucket of the
  pair is listed, flagged where the two agree within 0.01.
- citation_numbers: each citation of a method in results/paper/citations.csv (extracted from the
  paper's text, with its context) against the number §2 gives that method's paper; flagged where
  they differ.

`findings` turns the flagged rows into one plain sentence per check, for the report.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

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
MATCH_TOLERANCE = ROUNDING + 1e-9  # one unit of the paper's last printed digit
MATCHES_NEEDED = 2  # of the 3 metrics, for a Table 3 row to match a definition
REPEATED_MIN = 3  # identical buckets (of 6) that make two tables' columns a repetition
MEAN_OF_BUCKETS = "mean of the six buckets"
NO_DEFINITION = "none matches"
CITATIONS_CSV = Path(__file__).resolve().parents[1] / "results" / "paper" / "citations.csv"
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


def _table3_with_buckets(paper: pd.DataFrame):
    """(Table 3 row, its per-bucket rows, Table 3's values, the buckets' values) per Table 3 row
    that has per-bucket rows for the same dataset and method."""
    buckets = _bucket_tables(paper)
    for row in paper[paper["table"] == "3"].itertuples(index=False):
        same = buckets[(buckets["dataset"] == row.dataset) & (buckets["method"] == row.method)]
        if not same.empty:
            yield (row, same, np.array([getattr(row, m) for m in PAPER_METRICS]),
                   same[list(PAPER_METRICS)].to_numpy(np.float64))


def table3_vs_buckets(paper: pd.DataFrame) -> list[dict]:
    out = []
    for row, same, target, values in _table3_with_buckets(paper):
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


def table3_definitions(paper: pd.DataFrame) -> pd.DataFrame:
    """Per Table 3 row, the definition its numbers match: a single bucket of the per-bucket
    tables (definition "bucket <label>") or MEAN_OF_BUCKETS (bucket "mean"). A definition matches
    when at least MATCHES_NEEDED of the three metrics lie within 0.01 of it (ties: the closer);
    otherwise the definition is NO_DEFINITION and `bucket`, `closest` name the closest candidate.
    Columns: dataset, method, definition, bucket, table, matched, closest, and the candidate's
    values under each paper metric column."""
    records = []
    for row, same, target, values in _table3_with_buckets(paper):
        candidates = [(f"bucket {b}", b, v) for b, v in zip(same["bucket"], values)]
        candidates.append((MEAN_OF_BUCKETS, "mean", values.mean(axis=0)))
        scored = [(int((np.abs(v - target) <= MATCH_TOLERANCE).sum()), -np.abs(v - target).sum(),
                   label, bucket, v) for label, bucket, v in candidates]
        matched, _, label, bucket, v = max(scored, key=lambda c: (c[0], c[1]))
        records.append({"dataset": row.dataset, "method": row.method,
                        "definition": label if matched >= MATCHES_NEEDED else NO_DEFINITION,
                        "bucket": bucket, "table": same["table"].iloc[0], "matched": matched,
                        "closest": label, **dict(zip(PAPER_METRICS, v))})
    return pd.DataFrame(records, columns=["dataset", "method", "definition", "bucket", "table",
                                          "matched", "closest", *PAPER_METRICS])


def table3_definition(paper: pd.DataFrame) -> list[dict]:
    out = []
    table3 = paper[paper["table"] == "3"].set_index(["dataset", "method"])
    for row in table3_definitions(paper).itertuples(index=False):
        found = row.definition != NO_DEFINITION
        for metric in PAPER_METRICS:
            note = (f"matches the {row.definition} ({row.matched} of 3 metrics within 0.01)" if found
                    else f"no definition matches; closest: {row.closest} ({row.matched} of 3)")
            out.append(_record("table3_definition", "3", row.table, row.dataset, row.method,
                               row.bucket, metric, table3.loc[(row.dataset, row.method), metric],
                               getattr(row, metric), not found, note))
    return out


def repeated_across_tables(paper: pd.DataFrame) -> list[dict]:
    out = []
    columns = {key: rows.set_index("bucket") for key, rows
               in _bucket_tables(paper).groupby(["table", "dataset", "method"], sort=False)}
    for (key_a, a), (key_b, b) in combinations(columns.items(), 2):
        if key_a[0] == key_b[0]:
            continue
        method = key_a[2] if key_a[2] == key_b[2] else f"{key_a[2]} vs {key_b[2]}"
        for metric in PAPER_METRICS:
            pair = pd.concat([a[metric], b[metric]], axis=1, join="inner").to_numpy(np.float64)
            equal = np.isclose(pair[:, 0], pair[:, 1], rtol=0.0, atol=1e-9)
            if equal.sum() < REPEATED_MIN:
                continue
            buckets = a.index.intersection(b.index, sort=False)
            for bucket, (x, y) in zip(buckets, pair):
                out.append(_record("repeated_across_tables", key_a[0], key_b[0],
                                   f"{key_a[1]} vs {key_b[1]}", method, bucket, metric, x, y,
                                   abs(x - y) <= MATCH_TOLERANCE,
                                   f"{int(equal.sum())} of {len(pair)} buckets identical"))
    return out


def load_citations(path: Path | None = None) -> pd.DataFrame:
    """The paper's method citations: section, name, number, role (defines | cites), context."""
    path = Path(path) if path is not None else CITATIONS_CSV
    if not path.is_file():
        raise FileNotFoundError(f"paper citations CSV not found: {path}")
    frame = pd.read_csv(path, dtype={"section": str, "name": str, "role": str, "context": str})
    missing = [c for c in ("section", "name", "number", "role", "context") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    return frame


def citation_numbers(citations: pd.DataFrame) -> list[dict]:
    defines = citations[citations["role"] == "defines"]
    number_of = dict(zip(defines["name"], defines["number"]))
    owner = dict(zip(defines["number"], defines["name"]))
    out = []
    for row in citations[citations["role"] == "cites"].itertuples(index=False):
        if row.name not in number_of:
            continue
        wrong = row.number != number_of[row.name]
        note = (f"[{row.number}] is {owner.get(row.number, 'another work')} in §2" if wrong
                else "the number §2 gives it") + f": \"{row.context}\""
        out.append(_record("citation_numbers", f"§{row.section}", "§2", "", row.name, "",
                           "citation", row.number, number_of[row.name], wrong, note))
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
          repeated_across_tables, bucket_monotonic, table3_definition, table3_vs_buckets)
# Rows are listed in this order: the specific findings first, the broad Table 3 checks last.
CHECK_ORDER = ("table5_vs_table2", "claim_ablation_improves", "claim_paper_method_best",
               "repeated_bucket_values", "repeated_across_tables", "citation_numbers",
               "bucket_monotonic", "table3_definition", "table3_vs_bucket", "table3_vs_bucket_mean")


def audit_paper(paper: pd.DataFrame, citations: pd.DataFrame | None = None) -> pd.DataFrame:
    """All checks on the paper's table CSV (as loaded by `bench.tables.load_paper`) and its
    citations (`load_citations()` unless given)."""
    records = []
    for check in CHECKS:
        records += check(paper)
    records += citation_numbers(load_citations() if citations is None else citations)
    frame = pd.DataFrame(records, columns=COLUMNS)
    order = {name: i for i, name in enumerate(CHECK_ORDER)}
    return frame.sort_values("check", key=lambda col: col.map(order), kind="stable").reset_index(drop=True)


def _cells(rows: pd.DataFrame, limit: int = 3) -> str:
    """A few flagged rows in words: "facade +residual_blocks l1_pct 3.36 vs 3.02", …"""
    shown = [" ".join(str(v) for v in (r.dataset, r.method, r.bucket, r.metric) if v and v != "all")
             + f" {r.value_a:g} vs {r.value_b:g}" for r in rows.head(limit).itertuples()]
    return "; ".join(shown) + ("; …" if len(rows) > limit else "")


FINDINGS = {
    "table5_vs_table2": "Table 5 should repeat Table 2 for the same networks, but {k} of {n} "
                        "values differ ({cells}).",
    "claim_ablation_improves": "The text says each ablation step improves the model, but {k} of "
                               "{n} step comparisons get worse ({cells}).",
    "claim_paper_method_best": "The text says SRPNet is best, but another method beats it in {k} "
                               "of {n} cells ({cells}).",
    "repeated_bucket_values": "One method repeats two or more of its metrics in two buckets of "
                              "one table in {k} cells ({cells}).",
    "repeated_across_tables": "A whole metric column repeats another table's: {pairs}.",
    "citation_numbers": "The text cites a method under the wrong reference number {k} times: "
                        "{citations}.",
    "bucket_monotonic": "A metric improves although the holes grow in {k} places ({cells}).",
    "table3_definition": "Table 3's numbers match a definition (one bucket or the mean of the "
                         "buckets) in only {matched} of {rows} rows; the other {unmatched} match "
                         "none, so their Δ is left empty.",
    "table3_vs_bucket": "Table 3, which claims all masks, equals a single bucket of the per-bucket "
                        "tables in {k} values (mostly the smallest, [0.01,0.1]).",
    "table3_vs_bucket_mean": "Table 3 differs from the mean of the six buckets in {k} of {n} "
                             "values, so it is not a pooled mean.",
}


def findings(audit: pd.DataFrame) -> list[str]:
    """One plain sentence per check that flags anything, in CHECK_ORDER."""
    out = []
    for check in CHECK_ORDER:
        rows = audit[audit["check"] == check]
        flagged = rows[rows["flagged"]]
        if flagged.empty:
            continue
        words = {"k": len(flagged), "n": len(rows), "cells": _cells(flagged)}
        if check == "repeated_across_tables":
            pairs = flagged.drop_duplicates(["table_a", "table_b", "dataset", "method", "metric"])
            words["pairs"] = "; ".join(
                f"Table {r.table_a}'s {r.method} {r.metric} column ({r.dataset.split(' vs ')[0]}) "
                f"repeats Table {r.table_b}'s ({r.dataset.split(' vs ')[1]}): {r.note}, the "
                "others within 0.01" for r in pairs.itertuples())
        if check == "citation_numbers":
            slips = flagged.groupby(["table_a", "method", "value_a", "value_b"], sort=False)
            words["citations"] = "; ".join(
                f"{section} cites {method} as [{a:g}] {len(group)}× ({group['note'].iloc[0].split(':')[0]}; "
                f"{method} is [{b:g}])" for (section, method, a, b), group in slips)
        if check == "table3_definition":
            words["rows"] = rows.groupby(["dataset", "method"]).ngroups
            words["unmatched"] = flagged.groupby(["dataset", "method"]).ngroups
            words["matched"] = words["rows"] - words["unmatched"]
        out.append(FINDINGS[check].format(**words))
    return out
