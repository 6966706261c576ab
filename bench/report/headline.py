"""The report's headline: each method's PSNR per dataset and mask setting, and a few sentences
computed from the tables (who leads where, by how much, whether it is significant, and what is
not comparable with the paper and why); where the trained runs had different budgets
(`bench.report.budget`), the ranking and the paired tests say they are not like for like.

`frame(built)` takes the tables `bench.tables.build_tables` made (or results.json read back)
and gives one row per run, dataset and mask setting: the centre mask (Table 2) and irregular
masks with all buckets pooled (Table 3). `sentences(built)` words it; `collect` stores them in
results.json and `bench.report.figures.headline_figure` draws the frame.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from bench import tables

SETTINGS = {"table2": "centre", "table3": "irregular, all buckets pooled"}
PAPER_SETTING = "table2"  # the paper's Table 3 numbers follow other definitions (see Table 3)
COLUMNS = ["dataset", "setting", "method", "run_id", "psnr", "low", "high", "paper"]


def frame(built: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Our PSNR with its 95% CI per run × dataset × setting; `paper` is the paper's value only
    where the row is comparable (status ok) and the paper defines it the same way (centre)."""
    parts = []
    for key, setting in SETTINGS.items():
        table = built[key][built[key]["n"].notna()]
        comparable = (table["status"] == tables.STATUS_OK) & (key == PAPER_SETTING)
        parts.append(pd.DataFrame({
            "dataset": [tables.dataset_label(d, s) for d, s in zip(table["dataset"], table["source"])],
            "setting": setting, "method": table["method"], "run_id": table["run_id"],
            "psnr": table["psnr_ours"], "low": table["psnr_ci_low"], "high": table["psnr_ci_high"],
            "paper": table["psnr_paper"].where(comparable),
        }, columns=COLUMNS))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _leaders(found: pd.DataFrame, caveat: str = "") -> list[str]:
    """Who leads by PSNR in how many dataset × setting groups, and the widest and narrowest lead
    (`caveat` follows the ranking, when there is one)."""
    leads = []
    for (dataset, setting), group in found.groupby(["dataset", "setting"], sort=False):
        ranked = group.sort_values("psnr", ascending=False)
        if len(ranked) > 1:
            first, second = ranked.iloc[0], ranked.iloc[1]
            leads.append((first["method"], second["method"], first["psnr"] - second["psnr"],
                          f"{dataset}, {setting}"))
    if not leads:
        return ["Each dataset and mask setting has a single method here, so nothing is ranked."]
    counts = pd.Series([lead[0] for lead in leads]).value_counts()
    who = ", ".join(f"{method} in {count}" for method, count in counts.items())
    said = [f"By mean PSNR, the leader is {who} of the {len(leads)} dataset × mask settings with more than "
            f"one method.{caveat}"]
    widest = max(leads, key=lambda lead: lead[2])
    narrowest = min(leads, key=lambda lead: lead[2])
    said.append(f"The widest lead is {widest[0]}'s {widest[2]:.2f} dB over {widest[1]} ({widest[3]}); "
                f"the narrowest, {narrowest[0]}'s {narrowest[2]:.2f} dB over {narrowest[1]} "
                f"({narrowest[3]}).")
    return said


def _significance(paired: pd.DataFrame, caveat: str = "") -> str:
    """How many paired PSNR differences (centre, irregular pooled) exclude zero, in which direction
    (`caveat` follows, when any was tested)."""
    pooled = paired[paired["bucket"] == "all"]
    reference = tables.REFERENCE_METHOD
    if pooled.empty:
        return (f"No other method was scored on the same images and masks as {reference}, so no "
                "difference is tested for significance.")
    verdicts = pooled["psnr_verdict"]
    better = int((verdicts == f"{reference} better").sum())
    worse = int((verdicts == f"{reference} worse").sum())
    return (f"Paired on the same images and masks (centre, and irregular pooled), {reference}'s PSNR "
            f"is significantly higher than the other method's in {better} of {len(pooled)} "
            f"comparisons, significantly lower in {worse} and not clearly different in "
            f"{len(pooled) - better - worse} (95% bootstrap interval of the mean difference).{caveat}")


def _comparability(built: Mapping[str, pd.DataFrame]) -> str:
    """How many of our rows compare with the paper, and why the others do not."""
    ours = pd.concat([built[spec.key][built[spec.key]["n"].notna()] for spec in tables.TABLE_SPECS])
    status = ours["status"].value_counts()
    ok, proxy = int(status.get(tables.STATUS_OK, 0)), int(status.get(tables.STATUS_PROXY, 0))
    absent = int(status.get(tables.STATUS_NOT_IN_PAPER, 0))
    short = int(status.get(tables.STATUS_SHORT, 0))
    reasons = []
    if proxy:
        reasons.append(f"{proxy} come from the sample set's stand-ins for the paper's datasets (a few "
                       "small images, not its test split)")
    if short:
        reasons.append(f"{short} were scored on a test split smaller than the dataset's published one "
                       "(a dataset folder holding fewer images)")
    if absent:
        reasons.append(f"{absent} have no value in the paper (a method, dataset or bucket it did not report)")
    if not ok:
        return (f"None of our {len(ours)} table rows is comparable with the paper: "
                f"{'; '.join(reasons) or 'no row has a paper value'}. The paper's columns are hidden.")
    centre = built[PAPER_SETTING]
    centre = centre[centre["status"] == tables.STATUS_OK]
    gap = (f"; on the centre mask our PSNR is {centre['psnr_delta'].mean():+.2f} dB from the paper's "
           f"on average over {len(centre)} rows" if len(centre) else "")
    rest = f" Of the others, {'; '.join(reasons)}." if reasons else ""
    return f"{ok} of our {len(ours)} table rows compare with the paper{gap}.{rest}"


UNEQUAL = (" Not like for like: the trained methods had different training budgets (see the budget "
           "line above).")


def sentences(built: Mapping[str, pd.DataFrame], like_for_like: bool = True) -> list[str]:
    """Three to four sentences computed from the tables (empty when nothing was evaluated);
    without `like_for_like` (the trained runs' budgets differ, `bench.report.budget`) the ranking
    and the paired tests say they are not like for like."""
    found = frame(built)
    found = found[np.isfinite(found["psnr"].astype(float))]
    if found.empty:
        return []
    caveat = "" if like_for_like else UNEQUAL
    return [*_leaders(found, caveat), _significance(built["paired"], caveat), _comparability(built)]
