"""Per-image evaluation rows → the paper's tables, with the paper's numbers beside ours.

Input: the `eval/rows.csv` of one or more run folders (schema in the run-folder interface) and
`results/paper/paper_tables.csv`. Output: one pandas DataFrame per table (Table 1, 2, 3, 4,
A3–A5, 5), a paired comparison of SRPNet against every other method on the same images and
masks, and the paper-consistency audit (`bench.audit`); `write_tables` stores them as CSV.

Each metric cell holds our mean over images, a seeded 95% percentile-bootstrap interval of that
mean (images resampled), the paper's value and the difference ours − paper. Table 3 compares
like with like: our figure is pooled over all buckets, but the paper's numbers match a single
bucket in some rows, so its Δ is taken against our value under the definition each paper row
matches (`bench.audit.table3_definitions`), and left empty where none matches. Paper rows that we
did not run stay in the table with status "not run". Quick runs on the "sample" dataset are
mapped to the paper dataset of their domain and labelled "sample proxy, not comparable"; rows
scored on a test split smaller than the published one, "short test split, not comparable".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Mapping

import numpy as np
import pandas as pd

from bench import audit, methods
from bench.data.datasets import REAL_DATASETS
from bench.data import mask_families
from bench.data.masks import BUCKET_LABELS, NVIDIA_MASKS_PER_BUCKET
from bench.data.sample import DOMAINS
from bench.metrics import DEFAULT_L1, SPECS, TABLE_METRICS, check_l1
from bench.records import rows as rows_record
from bench.records.manifest import shown_method
from bench import runs
from bench.runs import RunFolder, write_text

# The tables' metric key → (paper column, higher is better, label), from bench.metrics.SPECS.
METRICS = {key: (SPECS[m].paper_column, SPECS[m].higher_is_better, SPECS[m].label)
           for key, m in TABLE_METRICS.items()}

# Every table also holds the training-free references (the floor), as rows the paper never had.
COMPARISON_METHODS = methods.IN_PAPER_TABLES + methods.TRAINING_FREE
ABLATION_METHODS = tuple(methods.ABLATION.values())
METHOD_ORDER = tuple(methods.BUILTINS)  # a plugin, like any method outside the paper, is an "other" method
REFERENCE_METHOD = methods.REFERENCE
PAPER_METHOD_NAMES = methods.ABLATION  # Table 5 names in the paper CSV → our registry names
# The paper's datasets in its order; any other (`folder`) sorts after them and has no paper values.
DATASET_ORDER = tuple(d.name for d in REAL_DATASETS.values() if d.in_paper)
PAPER_DATASET_NAMES = {"dtd": "DTD", "facade": "CMP Facade", "celeba-hq": "CelebA-HQ", "places2": "Places2"}
SAMPLE_DATASET = "sample"
DOMAIN_TO_DATASET = {domain: paper_dataset for domain, (paper_dataset, _) in DOMAINS.items()}
BUCKET_ORDER = ("all", *BUCKET_LABELS)
# A row's source: "full", measured on the dataset it names (a paper dataset, or `folder`, the user's
# own images, which the paper has no column for); "sample", a sample-set domain standing in for the
# paper dataset it is mapped to; "short", measured on a test split smaller than the dataset's
# published one (a dataset folder holding fewer images than published), as the evaluation's plan
# recorded it. "full" says nothing about how many of the split's images were evaluated (eval.count).
SOURCE_FULL, SOURCE_SAMPLE, SOURCE_SHORT = "full", "sample", "short"
STATUS_OK = "ok"
STATUS_NOT_RUN = "not run"
STATUS_NOT_IN_PAPER = "not in paper"
STATUS_PROXY = "sample proxy, not comparable"
STATUS_SHORT = "short test split, not comparable"

# Table 1 of the paper (not in the CSV): images per split of the registry's paper datasets; the
# NVIDIA mask set has 12,000 masks.
PAPER_TABLE1 = {
    **{(d.name, split): count for d in REAL_DATASETS.values() if d.in_paper
       for split, count in (("train", d.train_count), ("test", d.test_count))},
    ("masks", "total"): NVIDIA_MASKS_PER_BUCKET * len(BUCKET_LABELS),
}

PAPER_CSV = Path(__file__).resolve().parents[1] / "results" / "paper" / "paper_tables.csv"


@dataclass(frozen=True)
class TableSpec:
    """Which rows one paper table holds.

    `per_bucket`: one row per irregular bucket (else centre or all buckets pooled, bucket "all");
    `other_methods`: also hold methods the paper never ran (any name outside METHOD_ORDER);
    `open_datasets`: datasets beyond the paper's are added where we ran one of `anchors`
    (None: any method the table holds);
    `ablation_names`: the paper names its rows baseline / +discriminator / +residual_blocks.
    """

    key: str
    title: str
    mask_setting: str
    per_bucket: bool
    methods: tuple[str, ...]
    other_methods: bool
    open_datasets: bool
    anchors: tuple[str, ...] | None = None
    ablation_names: bool = False

    def holds(self, methods: pd.Series) -> pd.Series:
        """Which of these method names belong in this table."""
        extra = ~methods.isin(METHOD_ORDER) if self.other_methods else False
        return methods.isin(self.methods) | extra


TABLE_SPECS = (
    TableSpec("table2", "Table 2: centre square mask", "center", False, COMPARISON_METHODS, True, True),
    TableSpec("table3", "Table 3: irregular masks (ours: all buckets pooled; Δ: like with like)", "irregular", False,
              COMPARISON_METHODS, True, True),
    TableSpec("table4", "Table 4: irregular masks per bucket, CelebA-HQ", "irregular", True,
              COMPARISON_METHODS, True, False),
    TableSpec("tableA3", "Table A3: irregular masks per bucket, DTD", "irregular", True,
              COMPARISON_METHODS, True, False),
    TableSpec("tableA4", "Table A4: irregular masks per bucket, Facade", "irregular", True,
              COMPARISON_METHODS, True, False),
    TableSpec("tableA5", "Table A5: irregular masks per bucket, Places2", "irregular", True,
              COMPARISON_METHODS, True, False),
    TableSpec("table5", "Table 5: ablation, centre square mask", "center", False,
              ABLATION_METHODS + methods.TRAINING_FREE,
              False, True, tuple(m for m in ABLATION_METHODS if m != REFERENCE_METHOD), ablation_names=True),
)
TABLE_TITLES = {
    "table1": "Table 1: images per dataset and split",
    **{spec.key: spec.title for spec in TABLE_SPECS},
    "paired": "Paired comparison: SRPNet minus each other method on the same images and masks",
    "audit": "Paper-consistency audit (computed from paper_tables.csv)",
}
FAMILIES_TITLE = ("Mask families: LaMa's and MAT's masks (seeded generators of their distributions, "
                  "not their test files, unless labelled MAT's released masks)")
GROUP_COLUMNS = ["run_id", "method", "dataset", "source", "mask_setting", "bucket"]


def domain_label(domain: str) -> str:
    """A sample-set domain as the report names it: "sample · texture (stand-in for DTD)"."""
    paper = DOMAIN_TO_DATASET[domain]
    return f"{SAMPLE_DATASET} · {domain} (stand-in for {PAPER_DATASET_NAMES.get(paper, paper)})"


def dataset_label(dataset: str, source: str) -> str:
    """What a row measured: the dataset itself (saying when its test split is short of the
    published one), or the sample-set domain standing in for it."""
    if source == SOURCE_SHORT:
        return f"{dataset} (test split short of its published {REAL_DATASETS[dataset].test_count} images)"
    if source != SOURCE_SAMPLE:
        return dataset
    (domain,) = (d for d, paper in DOMAIN_TO_DATASET.items() if paper == dataset)
    return domain_label(domain)


def load_paper(path: Path | None = None) -> pd.DataFrame:
    """The paper's tables in long form: table, dataset, mask, bucket, method, l1_pct, psnr, msssim_pct."""
    path = Path(path) if path is not None else PAPER_CSV
    if not path.is_file():
        raise FileNotFoundError(f"paper tables CSV not found: {path}")
    frame = pd.read_csv(path, dtype={c: str for c in ("table", "dataset", "mask", "bucket", "method")})
    missing = [c for c in ("table", "dataset", "mask", "bucket", "method", "l1_pct", "psnr", "msssim_pct")
               if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    return frame


def _checkpoint_step(name: str) -> int:
    numbers = re.findall(r"\d+", name)
    return int(numbers[-1]) if numbers else -1


def keep_latest_checkpoint(rows: pd.DataFrame, own: Collection[str] = (),
                           last: Collection[str] = ()) -> pd.DataFrame:
    """Keep, per run, the rows of one checkpoint: the last the run wrote (sha256 in `last`, as its
    manifest recorded it) where it has rows, else its latest evaluated (largest step in its name;
    of several files scored under that name, the run's own (sha256 in `own`), else the last scored)."""
    keep = []
    for _, run_rows in rows.groupby("run_id", sort=False):
        recorded = run_rows[run_rows["checkpoint_sha256"].isin(list(last))]
        if not recorded.empty:
            keep.append(recorded)
            continue
        names = run_rows["checkpoint"].unique()
        last = max(names, key=lambda n: (_checkpoint_step(n), n))
        named = run_rows[run_rows["checkpoint"] == last]
        shas = list(dict.fromkeys(named["checkpoint_sha256"]))
        chosen = ([s for s in shas if s in own] or shas)[-1]
        keep.append(named[named["checkpoint_sha256"] == chosen])
    return pd.concat(keep, ignore_index=True) if keep else rows


def own_checksums(run_dirs: list[Path]) -> set[str]:
    """The sha256 of every checkpoint the runs hold (as recorded beside each)."""
    return {found for run_dir in run_dirs for path in runs.list_checkpoints(RunFolder(Path(run_dir)))
            if (found := runs.recorded_checksum(path)) is not None}


def last_checksums(run_dirs: list[Path]) -> set[str]:
    """The sha256 of each run's last checkpoint, as its manifest recorded it (runs with one)."""
    manifests = [RunFolder(Path(d)).read_manifest() for d in run_dirs if RunFolder(Path(d)).manifest_file.is_file()]
    return {m.last_checkpoint_sha256 for m in manifests if m.last_checkpoint_sha256 is not None}


def map_sample_domains(rows: pd.DataFrame) -> pd.DataFrame:
    """Add `source` and map sample-dataset rows onto the paper dataset of their domain."""
    rows = rows.copy()
    is_sample = rows["dataset"] == SAMPLE_DATASET
    unknown = sorted(set(rows.loc[is_sample, "domain"]) - set(DOMAIN_TO_DATASET))
    if unknown:
        raise ValueError(f"sample rows with unknown domain(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(DOMAIN_TO_DATASET)}")
    rows["source"] = np.where(is_sample, SOURCE_SAMPLE, SOURCE_FULL)
    rows.loc[is_sample, "dataset"] = rows.loc[is_sample, "domain"].map(DOMAIN_TO_DATASET)
    return rows


def mark_short_splits(rows: pd.DataFrame, split_sizes: Mapping[tuple[str, str], int]) -> pd.DataFrame:
    """Source "short" for the rows of a paper dataset whose evaluation (run id, checkpoint sha256
    → its test split's size, from eval/plan.json) drew on fewer test images than the published split."""
    published = {d.name: d.test_count for d in REAL_DATASETS.values() if d.test_count is not None}
    short = [source == SOURCE_FULL and dataset in published
             and split_sizes.get((run_id, sha), published[dataset]) < published[dataset]
             for source, dataset, run_id, sha in zip(rows["source"], rows["dataset"], rows["run_id"],
                                                     rows["checkpoint_sha256"])]
    return rows.assign(source=np.where(short, SOURCE_SHORT, rows["source"])) if any(short) else rows


def load_rows(run_dirs: list[Path]) -> pd.DataFrame:
    """All runs' eval/rows.csv (runs without one contribute nothing), latest checkpoint per run,
    duplicates (same run, image, mask setting) keep the last row, sample domains mapped, short
    test splits marked (their eval/plan.json's test split), a run of supplied outputs under
    "NAME (supplied outputs)" (bench.records.manifest.shown_method)."""
    frames, split_sizes = [], {}
    for run_dir in map(Path, run_dirs):
        if not run_dir.is_dir():
            raise FileNotFoundError(f"run folder not found: {run_dir}")
        run = RunFolder(run_dir)
        if run.rows_file.is_file():
            frame = rows_record.read_frame(run.rows_file)
            if run.manifest_file.is_file():  # a run of supplied outputs is shown as one
                frame["method"] = [shown_method(m, run.read_manifest().provenance) for m in frame["method"]]
            frames.append(frame)
            split_sizes.update({(run_id, sha): entry["test_split"]["count"]
                                for sha, entry in rows_record.read_plan(run).items() if "test_split" in entry
                                for run_id in frame["run_id"].unique()})
    if not frames:
        return map_sample_domains(rows_record.empty_frame())
    rows = keep_latest_checkpoint(pd.concat(frames, ignore_index=True), own_checksums(run_dirs),
                                  last_checksums(run_dirs))
    return mark_short_splits(map_sample_domains(rows_record.drop_duplicates(rows)), split_sizes)


def bootstrap_ci(values: np.ndarray, *, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the column means of `values` (images × metrics).

    Every metric uses the same resampled image sets; resamples are drawn in chunks so memory
    stays bounded (about 4 million gathered values at a time) whatever the image count.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    count, width = values.shape
    if count == 0:
        return np.full(width, np.nan), np.full(width, np.nan)
    rng = np.random.default_rng(seed)
    means = np.empty((n_boot, width))
    chunk = max(1, 4_000_000 // (count * width))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        index = rng.integers(0, count, size=(size, count))
        means[start:start + size] = values[index].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail], axis=0)
    return low, high


def _metric_columns(l1: str) -> dict[str, str]:
    return {**TABLE_METRICS, "l1": l1}


def _with_pooled(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows plus a copy of the irregular rows with bucket "all" (all buckets pooled)."""
    pooled = rows[rows["mask_setting"] == "irregular"].copy()
    pooled["bucket"] = "all"
    return pd.concat([rows, pooled], ignore_index=True)


def aggregate(rows: pd.DataFrame, *, l1: str = DEFAULT_L1, n_boot: int = 1000,
              seed: int = 0) -> pd.DataFrame:
    """Mean and bootstrap CI per run × dataset × mask setting × bucket (irregular also pooled)."""
    columns = _metric_columns(check_l1(l1))
    out = []
    for key, group in _with_pooled(rows).groupby(GROUP_COLUMNS, sort=False):
        values = group[list(columns.values())].to_numpy(dtype=np.float64)
        low, high = bootstrap_ci(values, n_boot=n_boot, seed=seed)
        record = dict(zip(GROUP_COLUMNS, key), n=len(group))
        for i, metric in enumerate(columns):
            record[f"{metric}_ours"] = values[:, i].mean()
            record[f"{metric}_ci_low"] = low[i]
            record[f"{metric}_ci_high"] = high[i]
        out.append(record)
    numbers = [f"{m}_{s}" for m in columns for s in ("ours", "ci_low", "ci_high")]
    frame = pd.DataFrame(out, columns=GROUP_COLUMNS + ["n"] + numbers)
    return frame.astype({"n": "int64", **{c: "float64" for c in numbers}})


def _paper_rows(paper: pd.DataFrame, table: str) -> pd.DataFrame:
    rows = paper[paper["table"] == table.removeprefix("table")]
    return pd.DataFrame({
        "dataset": rows["dataset"].to_numpy(),
        "mask_setting": rows["mask"].to_numpy(),
        "bucket": rows["bucket"].to_numpy(),
        "method": rows["method"].map(lambda m: PAPER_METHOD_NAMES.get(m, m)).to_numpy(),
        "paper_method": rows["method"].to_numpy(),
        **{f"{m}_paper": rows[column].to_numpy(dtype=np.float64)
           for m, (column, _, _) in METRICS.items()},
    })


def order_key(column: pd.Series, order: tuple[str, ...] | list[str]) -> pd.Series:
    """Sort key: position in `order`, unknown values after it (alphabetically among themselves)."""
    rank = {value: i for i, value in enumerate(order)}
    extra = sorted(set(column) - set(rank))
    rank.update({value: len(order) + i for i, value in enumerate(extra)})
    return column.map(rank)


def sort_by(frame: pd.DataFrame, orders: Mapping[str, tuple[str, ...]]) -> pd.DataFrame:
    """Stable sort by the given columns, each in its given order (missing values as "")."""
    present = [c for c in orders if c in frame.columns]
    return frame.sort_values(
        present, key=lambda col: order_key(col.fillna(""), orders[col.name]), kind="stable",
    ).reset_index(drop=True)


def paper_table(spec: TableSpec, ours: pd.DataFrame, paper: pd.DataFrame, *, l1: str) -> pd.DataFrame:
    """One paper table: the paper's rows outer-joined with our aggregated rows."""
    theirs = _paper_rows(paper, spec.key)
    mine = ours[(ours["mask_setting"] == spec.mask_setting)
                & ((ours["bucket"] != "all") if spec.per_bucket else (ours["bucket"] == "all"))
                & spec.holds(ours["method"])]
    datasets = set(theirs["dataset"])
    if spec.open_datasets:
        anchored = mine if spec.anchors is None else mine[mine["method"].isin(spec.anchors)]
        datasets |= set(anchored["dataset"])
    mine = mine[mine["dataset"].isin(datasets)]
    merged = theirs.merge(mine, on=["dataset", "mask_setting", "bucket", "method"], how="outer")
    inverse = {ours_name: paper_name for paper_name, ours_name in PAPER_METHOD_NAMES.items()}
    names = merged["method"].map(lambda m: inverse.get(m, m) if spec.ablation_names else m)
    merged["paper_method"] = merged["paper_method"].fillna(names)
    has_paper = merged["l1_paper"].notna()
    has_ours = merged["n"].notna()
    merged["status"] = np.select(
        [~has_ours, merged["source"] == SOURCE_SAMPLE, ~has_paper, merged["source"] == SOURCE_SHORT],
        [STATUS_NOT_RUN, STATUS_PROXY, STATUS_NOT_IN_PAPER, STATUS_SHORT], default=STATUS_OK)
    for metric in METRICS:
        merged[f"{metric}_delta"] = merged[f"{metric}_ours"] - merged[f"{metric}_paper"]
    merged.insert(0, "table", spec.key)
    merged["l1_variant"] = l1
    columns = ["table", "dataset", "mask_setting", "bucket", "method", "paper_method", "run_id",
               "source", "n"]
    for metric in METRICS:
        columns += [f"{metric}_{s}" for s in ("ours", "ci_low", "ci_high", "paper", "delta")]
    merged = merged[columns + ["l1_variant", "status"]]
    merged["n"] = merged["n"].astype("Int64")
    return sort_by(merged, {"dataset": DATASET_ORDER, "bucket": BUCKET_ORDER, "method": METHOD_ORDER,
                            "source": (SOURCE_FULL, SOURCE_SAMPLE), "run_id": ()})


def like_with_like(table: pd.DataFrame, ours: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Table 3 against the definition its paper numbers match (`audit.table3_definitions`).

    Adds `paper_definition` and `<metric>_as_paper`: our value under that definition (that
    bucket's mean, or the mean of our six bucket means); `<metric>_delta` becomes that − paper,
    empty where no definition matches or we lack the buckets. `<metric>_ours` stays our figure
    over all buckets pooled."""
    definitions = audit.table3_definitions(paper).set_index(["dataset", "method"])
    buckets = ours[(ours["mask_setting"] == "irregular") & (ours["bucket"] != "all")]
    table = table.copy()
    labels, values = [], {metric: [] for metric in METRICS}
    for row in table.itertuples(index=False):
        key = (row.dataset, row.paper_method)
        found = definitions.loc[key] if key in definitions.index else None
        labels.append(found["definition"] if found is not None else "")
        mine = buckets[(buckets["run_id"] == row.run_id) & (buckets["source"] == row.source)
                       & (buckets["dataset"] == row.dataset)]
        if found is None or found["definition"] == audit.NO_DEFINITION:
            mine = mine.iloc[:0]
        elif found["bucket"] != "mean":
            mine = mine[mine["bucket"] == found["bucket"]]
        elif set(mine["bucket"]) != set(BUCKET_LABELS):
            mine = mine.iloc[:0]
        for metric in METRICS:
            values[metric].append(mine[f"{metric}_ours"].mean() if len(mine) else np.nan)
    table.insert(table.columns.get_loc("status"), "paper_definition", labels)
    for metric in METRICS:
        table.insert(table.columns.get_loc(f"{metric}_paper") + 1, f"{metric}_as_paper", values[metric])
        table[f"{metric}_delta"] = table[f"{metric}_as_paper"] - table[f"{metric}_paper"]
    return table


def table1(rows: pd.DataFrame, data_counts: Mapping[str, Mapping[str, int]] | None = None) -> pd.DataFrame:
    """Images per dataset and split: the paper's count, the data check's, and the test images
    our rows evaluated (distinct image ids per dataset and source)."""
    found = {(d, s): int(n) for d, splits in (data_counts or {}).items() for s, n in splits.items()}
    evaluated = {}
    for (dataset, source), group in rows.groupby(["dataset", "source"], sort=False):
        evaluated[(dataset, "test", source)] = group["image_id"].nunique()
    keys = set(PAPER_TABLE1) | set(found) | {(d, s) for d, s, _ in evaluated}
    records = []
    for dataset, split in keys:
        sources = {src for d, s, src in evaluated if (d, s) == (dataset, split)}
        if not sources or (dataset, split) in found:
            sources.add(SOURCE_FULL)
        for source in sources:
            paper_count = PAPER_TABLE1.get((dataset, split))
            found_count = found.get((dataset, split)) if source == SOURCE_FULL else None
            evaluated_count = evaluated.get((dataset, split, source))
            ours = evaluated_count if evaluated_count is not None else found_count
            if source == SOURCE_SAMPLE:
                status = STATUS_PROXY
            elif ours is None:
                status = STATUS_NOT_RUN
            elif paper_count is None:
                status = STATUS_NOT_IN_PAPER
            else:
                agrees = ours == paper_count and found_count in (None, paper_count)
                status = STATUS_OK if agrees else "differs"
            records.append({"dataset": dataset, "split": split, "source": source,
                            "paper": paper_count, "found": found_count,
                            "evaluated": evaluated_count,
                            "delta": None if ours is None or paper_count is None else ours - paper_count,
                            "status": status})
    frame = pd.DataFrame(records, columns=["dataset", "split", "source", "paper", "found",
                                           "evaluated", "delta", "status"])
    for column in ("paper", "found", "evaluated", "delta"):
        frame[column] = frame[column].astype("Int64")
    frame = frame.sort_values(
        ["dataset", "split", "source"],
        key=lambda col: order_key(col, {"dataset": DATASET_ORDER, "split": ("train", "test", "total"),
                                        "source": (SOURCE_FULL, SOURCE_SAMPLE)}[col.name]),
        kind="stable")
    return frame.reset_index(drop=True)


def paired_comparison(rows: pd.DataFrame, *, l1: str = DEFAULT_L1, reference: str = REFERENCE_METHOD,
                      n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Reference minus each other method on the same image and mask, per run pair, dataset,
    mask setting and bucket (irregular also pooled); verdict from the bootstrap CI of the mean."""
    columns = _metric_columns(check_l1(l1))
    join = ["dataset", "source", "image_id", "mask_id", "mask_setting", "bucket"]
    keep = join + ["run_id", "method", *columns.values()]
    left = rows.loc[rows["method"] == reference, keep]
    right = rows.loc[rows["method"] != reference, keep]
    pairs = _with_pooled(left.merge(right, on=join, suffixes=("_a", "_b")))
    group_by = ["dataset", "source", "mask_setting", "bucket", "method_b", "run_id_a", "run_id_b"]
    out = []
    for key, group in pairs.groupby(group_by, sort=False):
        diffs = np.stack([group[f"{c}_a"].to_numpy(np.float64) - group[f"{c}_b"].to_numpy(np.float64)
                          for c in columns.values()], axis=1)
        low, high = bootstrap_ci(diffs, n_boot=n_boot, seed=seed)
        info = dict(zip(group_by, key))
        record = {"dataset": info["dataset"], "source": info["source"],
                  "mask_setting": info["mask_setting"], "bucket": info["bucket"],
                  "method": reference, "baseline": info["method_b"], "run_id": info["run_id_a"],
                  "baseline_run_id": info["run_id_b"], "n_pairs": len(group)}
        for i, (metric, (_, higher, _)) in enumerate(METRICS.items()):
            record[f"{metric}_diff"] = diffs[:, i].mean()
            record[f"{metric}_ci_low"] = low[i]
            record[f"{metric}_ci_high"] = high[i]
            better_low, better_high = (low[i] > 0, high[i] < 0) if higher else (high[i] < 0, low[i] > 0)
            record[f"{metric}_verdict"] = (f"{reference} better" if better_low
                                           else f"{reference} worse" if better_high
                                           else "no clear difference")
        out.append(record)
    names = ["dataset", "source", "mask_setting", "bucket", "method", "baseline", "run_id",
             "baseline_run_id", "n_pairs"]
    numbers = [f"{m}_{s}" for m in METRICS for s in ("diff", "ci_low", "ci_high")]
    names += numbers + [f"{m}_verdict" for m in METRICS]
    frame = pd.DataFrame(out, columns=names).astype({"n_pairs": "int64", **{c: "float64" for c in numbers}})
    frame["l1_variant"] = l1
    return sort_by(frame, {"dataset": DATASET_ORDER, "source": (SOURCE_FULL, SOURCE_SAMPLE),
                           "mask_setting": ("center", "irregular"), "bucket": BUCKET_ORDER,
                           "baseline": METHOD_ORDER, "run_id": (), "baseline_run_id": ()})


def families_table(ours: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The aggregated rows (`ours`) of the mask-family settings (bench.data.mask_families), each
    named by its label, which no paper table holds: "LaMa-distribution thick 256" for a seeded
    generator's masks, "MAT's released masks large 512" where every mask of the run's setting was
    imported from MAT's files (the per-image `rows` say which)."""
    frame = ours[ours["mask_setting"].isin(list(mask_families.FAMILIES))].copy()
    released = rows.groupby(["run_id", "mask_setting"])["mask_id"].agg(
        lambda ids: all(map(mask_families.is_released, ids)))
    frame.insert(frame.columns.get_loc("mask_setting") + 1, "masks",
                 [mask_families.label(name, bool(released.get((run_id, name), False)))
                  for run_id, name in zip(frame["run_id"], frame["mask_setting"])])
    return sort_by(frame, {"dataset": DATASET_ORDER, "source": (SOURCE_FULL, SOURCE_SAMPLE),
                           "mask_setting": tuple(mask_families.FAMILIES), "method": METHOD_ORDER, "run_id": ()})


HOLE_RATIO_BIN_WIDTHS = (10, 20)  # LaMa's 10 % bins, CoModGAN's 20 % bins


def hole_ratio_bins(width: int) -> tuple[list[float], list[str]]:
    """Edges and labels of `width` % hole-ratio bins: [0%,w%], (w%,2w%], …, (100-w%,100%]."""
    if width not in HOLE_RATIO_BIN_WIDTHS:
        raise ValueError(f"--bin-by-hole-ratio {width}: use one of {', '.join(map(str, HOLE_RATIO_BIN_WIDTHS))} "
                         "(LaMa's 10 % bins, CoModGAN's 20 %)")
    edges = list(range(0, 101, width))
    labels = [f"{'[' if lo == 0 else '('}{lo}%,{hi}%]" for lo, hi in zip(edges, edges[1:])]
    return [e / 100 for e in edges], labels


def by_hole_ratio(rows: pd.DataFrame, width: int, *, l1: str = DEFAULT_L1, n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Mean and bootstrap CI per run × dataset × mask setting × hole-ratio bin of `width` %
    (each image by the hole ratio of its own mask; irregular buckets pooled first)."""
    edges, labels = hole_ratio_bins(width)
    binned = rows.assign(bucket=pd.cut(rows["hole_ratio"], edges, labels=labels, include_lowest=True).astype(str))
    frame = aggregate(binned, l1=l1, n_boot=n_boot, seed=seed)
    frame = frame[frame["bucket"] != "all"].rename(columns={"bucket": "hole_ratio_bin"})
    return sort_by(frame, {"dataset": DATASET_ORDER, "source": (SOURCE_FULL, SOURCE_SAMPLE),
                           "mask_setting": ("center", "irregular", *mask_families.FAMILIES),
                           "hole_ratio_bin": tuple(labels), "method": METHOD_ORDER, "run_id": ()})


def build_tables(rows: pd.DataFrame, paper: pd.DataFrame, *, l1: str = DEFAULT_L1,
                 data_counts: Mapping[str, Mapping[str, int]] | None = None,
                 n_boot: int = 1000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Every table, keyed table1, table2, table3, table4, tableA3, tableA4, tableA5, table5,
    paired, families, audit. `rows` comes from `load_rows`, `paper` from `load_paper`."""
    check_l1(l1)
    ours = aggregate(rows, l1=l1, n_boot=n_boot, seed=seed)
    tables = {"table1": table1(rows, data_counts)}
    for spec in TABLE_SPECS:
        tables[spec.key] = paper_table(spec, ours, paper, l1=l1)
    tables["table3"] = like_with_like(tables["table3"], ours, paper)
    tables["paired"] = paired_comparison(rows, l1=l1, n_boot=n_boot, seed=seed)
    tables["families"] = families_table(ours, rows)
    tables["audit"] = audit.audit_paper(paper)
    return tables


def write_tables(tables: Mapping[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    """Write each table as `<out_dir>/<name>.csv` (atomically); returns name → path."""
    paths = {}
    for name, frame in tables.items():
        paths[name] = Path(out_dir) / f"{name}.csv"
        write_text(paths[name], frame.to_csv(index=False))
    return paths
