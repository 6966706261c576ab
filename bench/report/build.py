"""Render one self-contained HTML report from a report folder's own files.

The report is two steps: `bench.report.results.collect` reads the run folders, computes every
table once and writes the report folder (results.json, tables/*.csv, copied samples and losses);
`render(report_dir)` draws report_dir/report.html from those files alone (templates/report.html,
every image and plot inlined as a base64 PNG data URI, so the file opens anywhere on its own).
`build_report(run_dirs, out_dir)` does both; `inpaint-bench report --from DIR` re-renders.
Several runs are compared on one page.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
import numpy as np
import pandas as pd

from bench import audit, metrics, profiles, tables
from bench.data import masks
from bench.report import figures, headline
from bench.report.results import ReportRun, Results, collect, read_results
from bench.runs import write_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUS_CLASSES = {tables.STATUS_OK: "ok", tables.STATUS_NOT_RUN: "notrun",
                  tables.STATUS_PROXY: "proxy", tables.STATUS_SHORT: "proxy",
                  tables.STATUS_NOT_IN_PAPER: "notinpaper", "differs": "differs"}
SRPNET_FAMILY = tables.ABLATION_METHODS  # the methods built by SRPNet's code
CI = "sub ci"  # a cell's 95% interval: a small second line on screen, left out in print
# The smoke banner's link to the checkout's page on longer training: relative to the report as
# reproduce.sh writes it, results/reports/<profile>/report.html (bench.reproduce.REPORTS_ROOT);
# the page also names the file, for a report folder opened elsewhere.
LEARNING_PAGE = "docs/learning.md"
LEARNING_HREF = f"../../../{LEARNING_PAGE}"


# --- table views -------------------------------------------------------------------------------
@dataclass
class Cell:
    text: str
    cls: str = ""
    bold: bool = False
    colspan: int = 1
    rowspan: int = 1
    sub: str = ""  # a second, smaller line: a run's provenance, or a 95% CI (class "ci": left out in print)
    sub_cls: str = "sub"


@dataclass
class Row:
    cells: list[Cell]
    cls: str = ""


@dataclass
class TableView:
    key: str
    title: str
    header_rows: list[list[Cell]]
    rows: list[Row]
    note: str = ""
    folded: str = ""  # when set: the table is folded (<details>) under this one-line summary


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def fmt(value: Any, digits: int = 2, signed: bool = False) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:+d}" if signed else str(value)
    if isinstance(value, (float, np.floating)):
        return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return str(value)


def _best(values: pd.Series, groups: pd.DataFrame, higher: bool) -> pd.Series:
    """True where a value is the best of its group (ties all win); NaN never wins."""
    keys = [groups[c].fillna("") for c in groups.columns]
    best = values.groupby(keys).transform("max" if higher else "min")
    return pd.Series(np.isclose(values, best) & values.notna(), index=values.index)


def _delta_class(delta: Any, higher: bool, comparable: bool) -> str:
    if _missing(delta) or not comparable or delta == 0:
        return ""
    return "better" if (delta > 0) == higher else "worse"


def paper_table_view(spec: tables.TableSpec, frame: pd.DataFrame,
                     provenance: Mapping[str, str] | None = None) -> TableView:
    """A paper table: ours [CI], paper, Δ per metric; best per column bold, Δ coloured.
    `provenance` (run id → where its weights come from) is the run cell's second line. Where we
    have rows but none is comparable with the paper, its columns and the rows we did not run are
    left out."""
    provenance = provenance or {}
    comparable_table = bool((frame["status"] == tables.STATUS_OK).any() or frame["n"].isna().all())
    hidden = 0 if comparable_table else int((frame["status"] == tables.STATUS_NOT_RUN).sum())
    if not comparable_table:
        frame = frame[frame["status"] != tables.STATUS_NOT_RUN].reset_index(drop=True)
    header = [Cell("Dataset", rowspan=2)]
    if spec.per_bucket:
        header.append(Cell("Bucket", rowspan=2))
    header += [Cell("Method", rowspan=2), Cell("Run (provenance)", rowspan=2), Cell("n", rowspan=2)]
    like = "paper_definition" in frame.columns  # Table 3: Δ against the paper's own definition
    names = (("ours, all buckets pooled [95% CI]", "ours as the paper's definition", "paper",
              "Δ like with like") if like else ("ours [95% CI]", "paper", "Δ"))
    names = names if comparable_table else names[:1]
    header += [Cell(f"{label} {'↑' if higher else '↓'}", colspan=len(names))
               for _, higher, label in tables.METRICS.values()]
    if like and comparable_table:
        header.append(Cell("Paper's definition", rowspan=2))
    header.append(Cell("Status", rowspan=2))
    sub = [Cell(text) for _ in tables.METRICS for text in names]
    best = {}
    for metric, (_, higher, _) in tables.METRICS.items():
        best[f"{metric}_ours"] = _best(frame[f"{metric}_ours"], frame[["dataset", "bucket", "source"]],
                                       higher)
        best[f"{metric}_paper"] = _best(frame[f"{metric}_paper"], frame[["dataset", "bucket"]], higher)
    rows, previous = [], None
    for i, record in frame.iterrows():
        comparable = record["status"] == tables.STATUS_OK
        method = record["method"]
        if spec.ablation_names:
            method = f"{record['paper_method']} ({record['method']})"
        cells = [Cell(tables.dataset_label(record["dataset"], record["source"]))]
        if spec.per_bucket:
            cells.append(Cell(record["bucket"]))
        run = "" if _missing(record["run_id"]) else provenance.get(record["run_id"], "—")
        cells += [Cell(method, "method"), Cell(fmt(record["run_id"]), "method", sub=run),
                  Cell(fmt(record["n"]), "num")]
        for metric, (_, higher, _) in tables.METRICS.items():
            ours = record[f"{metric}_ours"]
            interval = "" if _missing(ours) else (
                f"[{fmt(record[f'{metric}_ci_low'])}, {fmt(record[f'{metric}_ci_high'])}]")
            cells.append(Cell(fmt(ours), "num", bool(best[f"{metric}_ours"][i]), sub=interval, sub_cls=CI))
            if not comparable_table:
                continue
            if like:
                cells.append(Cell(fmt(record[f"{metric}_as_paper"]), "num"))
            cells += [
                Cell(fmt(record[f"{metric}_paper"]), "num paper", bool(best[f"{metric}_paper"][i])),
                Cell(fmt(record[f"{metric}_delta"], signed=True),
                     "num " + _delta_class(record[f"{metric}_delta"], higher, comparable)),
            ]
        if like and comparable_table:
            cells.append(Cell(record["paper_definition"] or "—"))
        cells.append(Cell(record["status"], "status"))
        group = (record["dataset"], record["bucket"])
        cls = STATUS_CLASSES.get(record["status"], "") + (" group-start" if group != previous else "")
        previous = group
        rows.append(Row(cells, cls))
    l1 = frame["l1_variant"].iloc[0] if len(frame) else ""
    note = f"L1 = {l1}. Ours: mean over images with a 95% bootstrap interval (images resampled)"
    if comparable_table:
        note += "; Δ = ours − paper; best per column in bold (ours and paper separately)."
    else:
        left_out = (f"its columns and the {hidden} paper rows we did not run are" if hidden
                    else "its columns are")
        note += (f"; best per column in bold. No row here is comparable with the paper, so {left_out} "
                 "left out.")
    if like and comparable_table:
        note += (" The paper's Table 3 is not pooled over the buckets: each row's numbers are matched "
                 "to a definition (one bucket, or the mean of the six; bench.audit.table3_definitions) "
                 f"and Δ compares our value under it; \"{audit.NO_DEFINITION}\" rows get no Δ.")
    folded = ""
    if spec.per_bucket:
        ours_rows = int(frame["n"].notna().sum())
        folded = (f"{spec.title}: {ours_rows} row(s) of ours, "
                  f"{int((frame['status'] == tables.STATUS_OK).sum())} comparable with the paper")
    return TableView(spec.key, spec.title, [header, sub], rows, note, folded)


def paired_view(frame: pd.DataFrame) -> TableView:
    """Paired differences: one cell per metric, mean [CI] and verdict, coloured by verdict;
    folded under a one-line count of the verdicts."""
    header = [Cell(text) for text in ("Dataset", "Mask", "Run", "Against", "Against run", "Pairs")]
    header += [Cell(f"{label} {'↑' if higher else '↓'}: diff [95% CI]")
               for _, higher, label in tables.METRICS.values()]
    rows = []
    for _, record in frame.iterrows():
        mask = "centre" if record["mask_setting"] == "center" else f"irregular {record['bucket']}"
        cells = [Cell(tables.dataset_label(record["dataset"], record["source"])), Cell(mask),
                 Cell(record["run_id"]), Cell(record["baseline"]),
                 Cell(record["baseline_run_id"]), Cell(fmt(record["n_pairs"]), "num")]
        for metric in tables.METRICS:
            verdict = record[f"{metric}_verdict"]
            cls, word = (("better", "better") if verdict.endswith("better")
                         else ("worse", "worse") if verdict.endswith("worse") else ("", "n.s."))
            interval = f"[{fmt(record[f'{metric}_ci_low'])}, {fmt(record[f'{metric}_ci_high'])}]"
            cells.append(Cell(f"{fmt(record[f'{metric}_diff'], signed=True)} {word}", f"num {cls}",
                              sub=interval, sub_cls=CI))
        rows.append(Row(cells, "proxy" if record["source"] == tables.SOURCE_SAMPLE else ""))
    note = (f"{tables.REFERENCE_METHOD} minus the other method on the same image and mask "
            f"(L1 = {frame['l1_variant'].iloc[0] if len(frame) else '—'}); better/worse needs the "
            "whole 95% bootstrap interval on one side of zero, else n.s. (not significant).")
    verdicts = frame["psnr_verdict"] if len(frame) else pd.Series(dtype=str)
    folded = (f"{len(frame)} paired comparisons; PSNR: {tables.REFERENCE_METHOD} better in "
              f"{int(verdicts.str.endswith('better').sum())}, worse in "
              f"{int(verdicts.str.endswith('worse').sum())}, no clear difference in "
              f"{int((verdicts == 'no clear difference').sum())}")
    return TableView("paired", tables.TABLE_TITLES["paired"], [header], rows, note, folded)


def frame_view(key: str, title: str, frame: pd.DataFrame, *, note: str = "", folded: str = "",
               status_column: str | None = None, flag_column: str | None = None) -> TableView:
    """Any frame as a plain table; numbers to 2 decimals, rows classed by status or flag."""
    header = [[Cell(str(c)) for c in frame.columns]]
    rows = []
    for _, record in frame.iterrows():
        cls = ""
        if status_column:
            cls = STATUS_CLASSES.get(record[status_column], "")
        if flag_column and record[flag_column]:
            cls = "flagged"
        rows.append(Row([Cell(fmt(v), "num" if isinstance(v, (int, float, np.number)) else "")
                         for v in record], cls))
    return TableView(key, title, header, rows, note, folded)


def audit_views(frame: pd.DataFrame) -> list[TableView]:
    summary = (frame.groupby("check", sort=False)["flagged"].agg(["sum", "count"]).reset_index()
               .rename(columns={"sum": "flagged", "count": "rows"}))
    flagged = frame[frame["flagged"]].drop(columns=["flagged"])
    return [
        frame_view("audit-summary", "Audit summary (flagged rows per check)", summary,
                   note="Checks are described in bench/audit.py; every value comes from paper_tables.csv "
                        "and citations.csv (results/paper/)."),
        frame_view("audit-flagged", "Audit: flagged rows", flagged,
                   folded=f"The {len(flagged)} flagged audit rows"),
        frame_view("audit", tables.TABLE_TITLES["audit"] + ": every row", frame, flag_column="flagged",
                   folded=f"Every audit row ({len(frame)}, flagged ones shaded)"),
    ]


def runs_view(runs: list[ReportRun]) -> TableView:
    columns = ["run", "method", "dataset", "profile", "provenance", "status", "git SHA", "device",
               "started", "finished", "iterations", "last logged step", "evaluated checkpoint",
               "image size", "seed"]
    records = []
    for run in runs:
        manifest = run.manifest
        records.append([
            run.run_id, run.method, run.dataset, run.profile or "—", run.provenance, run.status,
            ((manifest and manifest.git_sha) or "—")[:12]
            + (" (dirty)" if manifest and manifest.git_dirty else ""),
            manifest and manifest.device, _short_time(manifest and manifest.started),
            _short_time(manifest and manifest.finished),
            run.setting("train.iterations"),
            run.last_step, ", ".join(run.evaluated) or "—", run.setting("data.size"),
            manifest.seed if manifest else run.setting("train.seed"),
        ])
    frame = pd.DataFrame(records, columns=columns)
    return frame_view("runs", "Runs (from manifest.json, config.yaml, losses.csv, eval/rows.csv)", frame,
                      note="Times in UTC.")


def _short_time(stamp: str | None) -> str | None:
    """An ISO time stamp to minutes ("2025-01-01T10:00:00+00:00" → "2025-01-01 10:00")."""
    return None if not stamp else str(stamp)[:16].replace("T", " ")


# --- protocol ----------------------------------------------------------------------------------
@dataclass
class MethodCard:
    label: str
    description: str
    parameters: list[tuple[str, str]]
    protocol: list[tuple[str, str]]
    departures: list[str]
    provenance: str = ""


@dataclass
class Protocol:
    glance: list[tuple[str, str]]
    methods: list[MethodCard] = field(default_factory=list)  # every run outside the SRPNet family
    gaps: list[MethodCard] = field(default_factory=list)  # SRPNet-family runs


def _scored(run: ReportRun) -> str:
    """What the run's rows were scored on: images per setting, mask seed and settings from its
    evaluation's own record (eval/plan.json), else from config.yaml, saying so."""
    nvidia, made = run.setting("data.nvidia_masks"), run.setting("data.mask_dir")
    source = (f"NVIDIA irregular mask files from {nvidia}" if nvidia else f"the mask set in {made}" if made
              else "bench.data.masks seeded generator")
    entries = list(run.plans.values())
    if not entries:
        return (f"test images {run.setting('eval.count') or 'whole test split'}; irregular masks: {source}, "
                f"mask seed {run.setting('eval.mask_seed', '?')}; settings "
                f"{', '.join(run.setting('eval.masks', []) or ['?'])} (as config.yaml says: no eval/plan.json)")
    counts = sorted({str(e["count"]) for e in entries})
    seeds = sorted({str(e.get("mask_seed", run.setting("eval.mask_seed", "?"))) for e in entries})
    settings = list(dict.fromkeys(name for e in entries for name in e["masks"]))
    return (f"test images {' and '.join(counts)} per setting; irregular masks: {source}, mask seed "
            f"{' and '.join(seeds)}; settings {', '.join(settings)}")


def _protocol_entries(runs: list[ReportRun]) -> list[tuple[str, str]]:
    """Each run's own evaluation choices (PIC-Net's sample selection, GLCIC's post-processing…)."""
    return [(f"{run.method} evaluation choices", f"{run.run_id}: " + "; ".join(
        f"{k} = {v}" for k, v in run.card["protocol"].items())) for run in runs if run.card.get("protocol")]


def _augmentation(run: ReportRun) -> str:
    parts = ["horizontal flip"]
    if run.setting("data.train_resize_crop"):
        parts.insert(0, f"resize to {run.setting('data.train_resize_crop')}² at 256 px (scaled "
                        "with the size), then a random crop")
    if (run.setting("data.train_zoom") or 1) > 1:
        parts.insert(0, f"a random crop at a zoom drawn from 1…{run.setting('data.train_zoom')}")
    if run.setting("data.train_rotation"):
        parts.append(f"random rotation ±{run.setting('data.train_rotation')}°")
    if run.setting("data.mask_augment"):
        parts.append("PEN-Net's mask flip, rotation and dilation")
    if run.setting("data.color_jitter"):
        parts.append("PEN-Net's ColorJitter(0.05), after the resize (PEN-Net: before)")
    return "training augmentation: " + ", ".join(parts)


def _extra_training_images(run: ReportRun) -> str:
    root = run.setting("data.extra_train_root")
    return f"more training images (never tested on): every image under {root}; " if root else ""


def protocol_view(runs: list[ReportRun], l1: str) -> Protocol:
    """Protocol facts from bench.metrics and from each run's config.yaml and method.json."""
    sizes = sorted({int(s) for s in (r.setting("data.size") for r in runs) if s is not None})
    windows = ", ".join(f"{s} px → {metrics.msssim_window(s)}" for s in sizes) or "—"
    glance = [
        ("L1 variant", f"{l1}: {metrics.SPECS[l1].definition}"),
        ("PSNR", metrics.SPECS["psnr"].definition),
        ("MS-SSIM", f"{metrics.SPECS['msssim_pct'].definition}; window by image size: {windows}"),
        ("Quantisation", inspect.getdoc(metrics.quantize) or ""),
        ("Centre mask", inspect.getdoc(masks.center_mask) or ""),
        ("Composite scored", inspect.getdoc(metrics.composite) or ""),
        ("Averaging", "every metric per image, then the mean over images; the interval is a "
                      "percentile bootstrap over images (bench.tables.bootstrap_ci)"),
        *_protocol_entries(runs),
    ]
    for run in runs:
        if run.released:
            glance.append((f"Run {run.run_id}", (
                f"{run.method} on {run.dataset}; {run.provenance_full}; resolution "
                f"{run.setting('data.size', '?')} px; {_scored(run)}")))
            continue
        glance.append((f"Run {run.run_id}", (
            f"{run.method} on {run.dataset}; {run.provenance}; "
            f"resolution {run.setting('data.size', '?')} px; "
            f"iterations {run.setting('train.iterations', '?')}; "
            f"batch {run.setting('train.batch_size', '?')} "
            f"({run.setting('train.batch_size_scope', '?')}); "
            f"training masks {run.setting('data.train_masks', '?')}; {_augmentation(run)}; "
            f"{_extra_training_images(run)}{_scored(run)}")))
    cards = []
    for run in runs:
        card = run.card
        cards.append(MethodCard(
            f"{run.method} [{run.run_id}]", str(card.get("description", "")),
            [(k, f"{v:,}") for k, v in card.get("parameter_counts", {}).items()],
            [(str(k), str(v)) for k, v in card.get("protocol", {}).items()],
            [str(d) for d in card.get("departures", [])], run.provenance_full))
    gaps = [c for c, run in zip(cards, runs) if run.method in SRPNET_FAMILY]
    others = [c for c, run in zip(cards, runs) if run.method not in SRPNET_FAMILY]
    return Protocol(glance, others, gaps)


def baseline_protocol_view(protocols: Sequence[profiles.BaselineProtocol], runs: list[ReportRun]) -> TableView:
    """Each method's protocol beside the paper's sentence about it (Section 4.1), with what this
    report's runs of it are (their provenance per dataset) and the profile's notes."""
    rows = []
    for protocol in protocols:
        ours = [f"{run.dataset}: {run.provenance}" + (
                    f" (its release {protocol.releases[run.dataset]} was missing: trained instead, --train-missing)"
                    if run.dataset in protocol.releases and not run.released else "")
                for run in runs if run.method == protocol.method]
        rows.append(Row([Cell(protocol.method, "method"), Cell(f"“{protocol.paper_says}”"),
                         Cell("; ".join(ours) or "no run in this report"),
                         Cell(" ".join(protocol.notes) or "—")]))
    header = [[Cell("Method"), Cell("The paper (Section 4.1)"), Cell("This report's runs"), Cell("Protocol notes")]]
    return TableView("baseline-protocols", "Each method's protocol beside the paper's sentence about it",
                     header, rows, "Quotes from the paper's Section 4.1; notes from the profile's "
                     "per_method entries (bench/configs).")


# --- the page ----------------------------------------------------------------------------------
def _sample_sections(results: Results) -> list[figures.SampleGrid]:
    """A grid per dataset; a sample-dataset run gets one per domain (image ids from its rows)."""
    by_dataset: dict[str, list[ReportRun]] = {}
    for run in results.runs:
        if run.samples is not None:
            by_dataset.setdefault(run.dataset, []).append(run)
    grids = []
    for dataset, group in by_dataset.items():
        methods = [r.method for r in group]
        labels = [r.method if methods.count(r.method) == 1 else f"{r.method} [{r.run_id}]" for r in group]
        sources = [figures.SampleSource(label, r.method, results.samples_dir(r)) for label, r in zip(labels, group)]
        if dataset != tables.SAMPLE_DATASET:
            grids.append(figures.sample_grid(sources, dataset, dataset))
            continue
        domains: dict[str, set[str]] = {}
        for run in group:
            for domain, ids in run.sample_ids.items():
                domains.setdefault(domain, set()).update(ids)
        grids += [figures.sample_grid(sources, tables.domain_label(domain), domain, images=1, only=ids)
                  for domain, ids in domains.items()]
    return [grid for grid in grids if grid is not None]


def _table1_view(frame: pd.DataFrame) -> TableView:
    frame = frame.assign(dataset=[tables.dataset_label(dataset, source)
                                  for dataset, source in zip(frame["dataset"], frame["source"])])
    return frame_view("table1", tables.TABLE_TITLES["table1"], frame, status_column="status",
                      note="paper: the paper's Table 1; found: the data check's count; "
                           "evaluated: distinct test images in our rows.")


def learning_curves(results: Results) -> list[tuple[str, str]]:
    """(caption, figure) per dataset with validation during training: its trained runs' curves,
    its training-free references' evaluated means and, where the numbers are comparable (a paper
    dataset, not a smoke-scale profile), the paper's SRPNet value, as horizontal lines."""
    found = []
    for dataset in dict.fromkeys(r.dataset for r in results.runs if r.validation is not None):
        group = [r for r in results.runs if r.dataset == dataset]
        curves = [(r.run_id, r.method, frame) for r in group
                  if r.validation is not None and not (frame := results.validation(r)).empty]
        if not curves:  # no complete row yet (a run stopped in its first validation): no figure
            continue
        diverged = {r.run_id: step for r in group if (step := results.diverged_at(r)) is not None}
        levels = [figures.Level(f"{r.method} (training-free, evaluated)", r.method, r.levels)
                  for r in group if r.training_free and r.levels]
        comparable = dataset in tables.DATASET_ORDER and not any(r.smoke for r in group)
        paper = paper_levels(results.tables, dataset) if comparable else {}
        if paper:
            levels.append(figures.Level(f"{tables.REFERENCE_METHOD} (paper)", None, paper, "--"))
        counts = sorted({int(r.setting("train.validate_count", 0)) for r in group if r.validation is not None})
        caption = (f"{dataset}: validation PSNR during training (first {'/'.join(map(str, counts))} test "
                   "images, the evaluator's masks); horizontal lines: each training-free reference's mean "
                   "over its whole evaluation" + ("; dashed: the paper's SRPNet" if paper else "")
                   + ("; vertical dashed line: a run's first sign of divergence (bench.divergence)"
                      if diverged else ""))
        found.append((caption, figures.data_uri(figures.learning_curve_figure(curves, levels, dataset, diverged))))
    return found


def paper_levels(built: Mapping[str, pd.DataFrame], dataset: str) -> dict[str, float]:
    """The paper's PSNR for the reference method on `dataset`, per evaluation setting name."""
    found = {}
    for setting in masks.EVAL_SETTINGS:
        for spec in tables.TABLE_SPECS:
            if spec.mask_setting != setting.kind or spec.per_bucket != (setting.bucket != "all"):
                continue
            frame = built[spec.key]
            hit = frame[(frame["dataset"] == dataset) & (frame["bucket"] == setting.bucket)
                        & (frame["method"] == tables.REFERENCE_METHOD)]["psnr_paper"].dropna()
            if len(hit):
                found[setting.name] = float(hit.iloc[0])
    return found


def families_view(built: Mapping[str, pd.DataFrame]) -> list[TableView]:
    """The mask-family table when the runs scored any family (report folders written before it have none)."""
    frame = built.get("families")
    return [] if frame is None or frame.empty else [frame_view("families", tables.FAMILIES_TITLE, frame)]


def render(report_dir: Path) -> Path:
    """Write report_dir/report.html (self-contained, written atomically) from the report
    folder's own files (results.json, tables/*.csv, samples/, losses/); returns its path.
    The page reads top-down: the headline (figure and sentences), the pictures, then the
    tables, the long ones folded."""
    results = read_results(Path(report_dir))
    built, runs, l1 = results.tables, results.runs, results.data["l1"]
    specs = {spec.key: spec for spec in tables.TABLE_SPECS}
    provenance = {run.run_id: run.provenance for run in runs}
    views = {key: paper_table_view(specs[key], built[key], provenance) for key in specs}
    found = headline.frame(built)
    plots = [(specs[key].title, figures.data_uri(figures.bucket_figure(
                 built[key], specs[key].title, (built[key]["status"] == tables.STATUS_OK).any())))
             for key in specs if specs[key].per_bucket and built[key]["n"].notna().any()]
    losses = [figures.loss_figure(frame, f"{run.run_id} ({run.method})", results.diverged_at(run))
              for run, frame in ((run, results.losses(run)) for run in runs)
              if frame is not None and not frame.empty]
    html = _environment().get_template("report.html").render(
        title=results.data["title"],
        generated=results.data["generated"],
        banners=results.data["banners"],
        floor=results.data.get("floor"),  # .get: report folders written before it have none
        budget=results.data.get("budget"),
        learning_page=LEARNING_PAGE, learning_href=LEARNING_HREF,
        headline=results.data["headline"],
        headline_figure=figures.data_uri(figures.headline_figure(found)) if len(found) else None,
        grids=_sample_sections(results),
        plots=plots,
        losses=[(figure.caption, figure.png and figures.data_uri(figure.png)) for figure in losses],
        tables=[_table1_view(built["table1"])] + [v for v in views.values() if not v.folded] + families_view(built),
        bucket_tables=[v for v in views.values() if v.folded],
        paired=paired_view(built["paired"]),
        audit=audit_views(built["audit"]),
        findings=results.data["findings"],
        runs=runs_view(runs),
        curves=learning_curves(results),
        protocol=protocol_view(runs, l1),
        baselines=baseline_protocol_view(results.protocols, runs) if results.protocols else None,
    )
    path = results.folder.html_file
    write_text(path, html)
    return path


def build_report(run_dirs: Sequence[Path], out_dir: Path, **options: Any) -> Path:
    """`collect` the run folders into out_dir, then `render` out_dir/report.html; returns its
    path. `options` are `collect`'s (l1, title, paper_csv, data_counts, n_boot, seed, protocols)."""
    return render(collect(run_dirs, out_dir, **options).path)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(["html"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
