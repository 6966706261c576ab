"""Build one self-contained HTML report (tables, plots, samples, protocol) from run folders.

`build_report(run_dirs, out_dir)` reads each run's manifest.json, method.json, config.yaml,
losses.csv, eval/rows.csv and eval/samples, computes every table with `bench.tables` and
renders out_dir/report.html from templates/report.html: every image and plot is inlined as a
base64 PNG data URI, so the file opens anywhere on its own. Several runs are compared on one
page. The tables' CSV files are the caller's to write (`bench.tables.write_tables`).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
import numpy as np
import pandas as pd
import yaml

from bench import audit, metrics, profiles, tables
from bench.data import masks
from bench.report import figures
from bench.runs import RunFolder, read_json, run_status, write_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
SMOKE_PROFILES = ("quick", "smoke")
SMOKE_BANNER = "smoke-scale run, not comparable with the paper"
SAMPLE_BANNER = ("sample dataset: numbers are a proxy for the paper datasets "
                 "(sample proxy, not comparable)")
STATUS_CLASSES = {tables.STATUS_OK: "ok", tables.STATUS_NOT_RUN: "notrun",
                  tables.STATUS_PROXY: "proxy", tables.STATUS_NOT_IN_PAPER: "notinpaper",
                  "differs": "differs"}
SRPNET_FAMILY = tables.ABLATION_METHODS  # the methods built by SRPNet's code
RECIPE_LABELS = {**profiles.RECIPE_LABELS, None: "own config (no profile recipe)"}


# --- run folders -------------------------------------------------------------------------------
def _read_json_if_present(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}


def _read_yaml_if_present(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    return loaded if isinstance(loaded, dict) else {}


def lookup(data: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """data["a"]["b"] for "a.b", or `default` where a level is missing."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def find_key(data: Any, key: str) -> Any:
    """The first value stored under `key` at any depth of nested mappings, else None."""
    if isinstance(data, Mapping):
        if key in data:
            return data[key]
        for value in data.values():
            found = find_key(value, key)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class RunInfo:
    """What the report reads from one run folder (missing files read as empty)."""

    path: Path
    manifest: dict[str, Any]
    card: dict[str, Any]
    config: dict[str, Any]
    losses: pd.DataFrame | None

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id") or lookup(self.config, "run.id") or self.path.name)

    @property
    def method(self) -> str:
        return str(self.manifest.get("method") or self.card.get("name")
                   or lookup(self.config, "method.name", "?"))

    @property
    def dataset(self) -> str:
        return str(self.manifest.get("dataset") or lookup(self.config, "data.dataset", "?"))

    @property
    def profile(self) -> str | None:
        found = self.manifest.get("profile") or find_key(self.config, "profile")
        return None if found is None else str(found)

    @property
    def samples_dir(self) -> Path:
        return self.path / "eval" / "samples"

    @property
    def released(self) -> bool:
        return lookup(self.manifest, "provenance.kind") == "released"

    def provenance(self, digits: int = 12) -> str:
        """Where this run's weights come from, e.g. "trained — authors' recipe" or "released
        weights (gen.pth, sha256 …)" (sha256 shortened to `digits` hex digits)."""
        found = self.manifest.get("provenance") or {}
        if found.get("kind") == "released":
            files = "; ".join(f"{name}, sha256 {digest[:digits]}" for name, digest in found.get("files", {}).items())
            return f"released weights {found.get('release', '')} ({files})".replace("  ", " ")
        if found.get("kind") == "trained":
            recipe = found.get("recipe")
            return f"trained — {RECIPE_LABELS.get(recipe, f'{recipe} recipe')}"
        if self.manifest.get("official_checkpoint"):
            return f"official checkpoint ({self.manifest['official_checkpoint']})"
        return "trained — recipe not recorded"


def read_run(path: Path) -> RunInfo:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"run folder not found: {path}")
    losses_file = path / "losses.csv"
    losses = None
    if losses_file.is_file():
        losses = pd.read_csv(losses_file, dtype={"name": str})
        missing = [c for c in ("step", "name", "value") if c not in losses.columns]
        if missing:
            raise ValueError(f"{losses_file}: missing columns {', '.join(missing)}")
    return RunInfo(path, _read_json_if_present(path / "manifest.json"),
                   _read_json_if_present(path / "method.json"),
                   _read_yaml_if_present(path / "config.yaml"), losses)


# --- table views -------------------------------------------------------------------------------
@dataclass
class Cell:
    text: str
    cls: str = ""
    bold: bool = False
    colspan: int = 1
    rowspan: int = 1


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
    wrap: bool = False  # let long cells wrap


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
    `provenance` (run id → where its weights come from) fills the Provenance column."""
    provenance = provenance or {}
    header = [Cell("Dataset", rowspan=2)]
    if spec.per_bucket:
        header.append(Cell("Bucket", rowspan=2))
    header += [Cell("Method", rowspan=2), Cell("Run", rowspan=2), Cell("Provenance", rowspan=2),
               Cell("n", rowspan=2)]
    like = "paper_definition" in frame.columns  # Table 3: Δ against the paper's own definition
    names = (("ours, all buckets pooled [95% CI]", "ours as the paper's definition", "paper",
              "Δ like with like") if like else ("ours [95% CI]", "paper", "Δ"))
    header += [Cell(f"{label} {'↑' if higher else '↓'}", colspan=len(names))
               for _, higher, label in tables.METRICS.values()]
    if like:
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
        cells = [Cell(record["dataset"])]
        if spec.per_bucket:
            cells.append(Cell(record["bucket"]))
        cells += [Cell(method, "method"), Cell(fmt(record["run_id"])),
                  Cell(provenance.get(record["run_id"], "—"), "method"), Cell(fmt(record["n"]), "num")]
        for metric, (_, higher, _) in tables.METRICS.items():
            ours = record[f"{metric}_ours"]
            interval = "" if _missing(ours) else (
                f" [{fmt(record[f'{metric}_ci_low'])}, {fmt(record[f'{metric}_ci_high'])}]")
            cells.append(Cell(fmt(ours) + interval, "num", bool(best[f"{metric}_ours"][i])))
            if like:
                cells.append(Cell(fmt(record[f"{metric}_as_paper"]), "num"))
            cells += [
                Cell(fmt(record[f"{metric}_paper"]), "num paper", bool(best[f"{metric}_paper"][i])),
                Cell(fmt(record[f"{metric}_delta"], signed=True),
                     "num " + _delta_class(record[f"{metric}_delta"], higher, comparable)),
            ]
        if like:
            cells.append(Cell(record["paper_definition"] or "—"))
        cells.append(Cell(record["status"], "status"))
        group = (record["dataset"], record["bucket"])
        cls = STATUS_CLASSES.get(record["status"], "") + (" group-start" if group != previous else "")
        previous = group
        rows.append(Row(cells, cls))
    l1 = frame["l1_variant"].iloc[0] if len(frame) else ""
    note = (f"L1 = {l1}. Ours: mean over images with a 95% bootstrap interval (images resampled); "
            "Δ = ours − paper; best per column in bold (ours and paper separately).")
    if like:
        note += (" The paper's Table 3 is not pooled over the buckets: each row's numbers are matched "
                 "to a definition (one bucket, or the mean of the six; bench.audit.table3_definitions) "
                 f"and Δ compares our value under it; \"{audit.NO_DEFINITION}\" rows get no Δ.")
    return TableView(spec.key, spec.title, [header, sub], rows, note)


def paired_view(frame: pd.DataFrame) -> TableView:
    """Paired differences: one cell per metric, mean [CI] and verdict, coloured by verdict."""
    header = [Cell(text) for text in ("Dataset", "Mask", "Run", "Against", "Against run", "Pairs")]
    header += [Cell(f"{label} {'↑' if higher else '↓'}: diff [95% CI]")
               for _, higher, label in tables.METRICS.values()]
    rows = []
    for _, record in frame.iterrows():
        dataset = record["dataset"] + (" (sample proxy)" if record["source"] == tables.SOURCE_SAMPLE else "")
        mask = "centre" if record["mask_setting"] == "center" else f"irregular {record['bucket']}"
        cells = [Cell(dataset), Cell(mask), Cell(record["run_id"]), Cell(record["baseline"]),
                 Cell(record["baseline_run_id"]), Cell(fmt(record["n_pairs"]), "num")]
        for metric in tables.METRICS:
            verdict = record[f"{metric}_verdict"]
            cls, word = (("better", "better") if verdict.endswith("better")
                         else ("worse", "worse") if verdict.endswith("worse") else ("", "n.s."))
            interval = f"[{fmt(record[f'{metric}_ci_low'])}, {fmt(record[f'{metric}_ci_high'])}]"
            cells.append(Cell(f"{fmt(record[f'{metric}_diff'], signed=True)} {interval} {word}",
                              f"num {cls}"))
        rows.append(Row(cells, "proxy" if record["source"] == tables.SOURCE_SAMPLE else ""))
    note = (f"{tables.REFERENCE_METHOD} minus the other method on the same image and mask "
            f"(L1 = {frame['l1_variant'].iloc[0] if len(frame) else '—'}); better/worse needs the "
            "whole 95% bootstrap interval on one side of zero, else n.s. (not significant).")
    return TableView("paired", tables.TABLE_TITLES["paired"], [header], rows, note)


def frame_view(key: str, title: str, frame: pd.DataFrame, *, note: str = "", wrap: bool = False,
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
    return TableView(key, title, header, rows, note, wrap)


def audit_views(frame: pd.DataFrame) -> list[TableView]:
    summary = (frame.groupby("check", sort=False)["flagged"].agg(["sum", "count"]).reset_index()
               .rename(columns={"sum": "flagged", "count": "rows"}))
    flagged = frame[frame["flagged"]].drop(columns=["flagged"])
    return [
        frame_view("audit-summary", "Audit summary (flagged rows per check)", summary,
                   note="Checks are described in bench/audit.py; every value comes from paper_tables.csv "
                        "and citations.csv (results/paper/)."),
        frame_view("audit-flagged", "Audit: flagged rows", flagged),
        frame_view("audit", tables.TABLE_TITLES["audit"] + ": every row", frame, flag_column="flagged"),
    ]


def runs_view(runs: list[RunInfo], rows: pd.DataFrame) -> TableView:
    columns = ["run", "method", "dataset", "profile", "provenance", "status", "git SHA", "dirty", "device",
               "started", "finished", "iterations", "last logged step", "evaluated checkpoint",
               "image size", "seed"]
    records = []
    for run in runs:
        evaluated = rows.loc[rows["run_id"] == run.run_id, "checkpoint"].unique()
        records.append([
            run.run_id, run.method, run.dataset, run.profile or "—", run.provenance(),
            run_status(RunFolder(run.path))[0],
            (run.manifest.get("git_sha") or "—")[:12], run.manifest.get("git_dirty"),
            run.manifest.get("device"), _short_time(run.manifest.get("started")),
            _short_time(run.manifest.get("finished")),
            lookup(run.config, "train.iterations"),
            None if run.losses is None or run.losses.empty else int(run.losses["step"].max()),
            ", ".join(evaluated) or "—", lookup(run.config, "data.size"),
            run.manifest.get("seed", lookup(run.config, "train.seed")),
        ])
    frame = pd.DataFrame(records, columns=columns)
    return frame_view("runs", "Runs (from manifest.json, config.yaml, losses.csv, eval/rows.csv)", frame,
                      wrap=True, note="Times in UTC.")


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


def _mask_source(run: RunInfo) -> str:
    nvidia = lookup(run.config, "data.nvidia_masks")
    source = f"NVIDIA irregular mask files from {nvidia}" if nvidia else "bench.data.masks seeded generator"
    return (f"irregular masks: {source}, mask seed {lookup(run.config, 'eval.mask_seed', '?')}; "
            f"settings {', '.join(lookup(run.config, 'eval.masks', []) or ['?'])}")


def _protocol_entries(runs: list[RunInfo]) -> list[tuple[str, str]]:
    """Each run's own evaluation choices (PIC-Net's sample selection, GLCIC's post-processing…)."""
    return [(f"{run.method} evaluation choices", f"{run.run_id}: " + "; ".join(
        f"{k} = {v}" for k, v in run.card["protocol"].items())) for run in runs if run.card.get("protocol")]


def _augmentation(run: RunInfo) -> str:
    parts = ["horizontal flip"]
    if lookup(run.config, "data.train_resize_crop"):
        parts.insert(0, f"resize to {lookup(run.config, 'data.train_resize_crop')}² at 256 px (scaled "
                        "with the size), then a random crop")
    if lookup(run.config, "data.train_rotation"):
        parts.append(f"random rotation ±{lookup(run.config, 'data.train_rotation')}°")
    if lookup(run.config, "data.mask_augment"):
        parts.append("PEN-Net's mask flip, rotation and dilation")
    if lookup(run.config, "data.color_jitter"):
        parts.append("PEN-Net's ColorJitter(0.05), after the resize (PEN-Net: before)")
    return "training augmentation: " + ", ".join(parts)


def protocol_view(runs: list[RunInfo], l1: str) -> Protocol:
    """Protocol facts from bench.metrics and from each run's config.yaml and method.json."""
    sizes = sorted({int(s) for s in (lookup(r.config, "data.size") for r in runs) if s is not None})
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
                f"{run.method} on {run.dataset}; {run.provenance(64)}; resolution "
                f"{lookup(run.config, 'data.size', '?')} px; test images "
                f"{lookup(run.config, 'eval.count') or 'whole test split'}; {_mask_source(run)}")))
            continue
        glance.append((f"Run {run.run_id}", (
            f"{run.method} on {run.dataset}; {run.provenance()}; "
            f"resolution {lookup(run.config, 'data.size', '?')} px; "
            f"iterations {lookup(run.config, 'train.iterations', '?')}; "
            f"batch {lookup(run.config, 'train.batch_size', '?')} "
            f"({lookup(run.config, 'train.batch_size_scope', '?')}); "
            f"training masks {lookup(run.config, 'data.train_masks', '?')}; {_augmentation(run)}; "
            f"test images "
            f"{lookup(run.config, 'eval.count') or 'whole test split'}; {_mask_source(run)}")))
    cards = []
    for run in runs:
        card = run.card
        cards.append(MethodCard(
            f"{card.get('name', run.method)} [{run.run_id}]", str(card.get("description", "")),
            [(k, f"{v:,}") for k, v in card.get("parameter_counts", {}).items()],
            [(str(k), str(v)) for k, v in card.get("protocol", {}).items()],
            [str(d) for d in card.get("departures", [])], run.provenance(64)))
    gaps = [c for c, run in zip(cards, runs) if run.method in SRPNET_FAMILY]
    others = [c for c, run in zip(cards, runs) if run.method not in SRPNET_FAMILY]
    return Protocol(glance, others, gaps)


def baseline_protocol_view(protocols: Sequence[profiles.BaselineProtocol], runs: list[RunInfo]) -> TableView:
    """Each method's protocol beside the paper's sentence about it (Section 4.1), with what this
    report's runs of it are (their provenance per dataset) and the profile's notes."""
    rows = []
    for protocol in protocols:
        ours = [f"{run.dataset}: {run.provenance()}" + (
                    f" (its release {protocol.releases[run.dataset]} was missing: trained instead, --train-missing)"
                    if run.dataset in protocol.releases and not run.released else "")
                for run in runs if run.method == protocol.method]
        rows.append(Row([Cell(protocol.method, "method"), Cell(f"“{protocol.paper_says}”"),
                         Cell("; ".join(ours) or "no run in this report"),
                         Cell(" ".join(protocol.notes) or "—")]))
    header = [[Cell("Method"), Cell("The paper (Section 4.1)"), Cell("This report's runs"), Cell("Protocol notes")]]
    return TableView("baseline-protocols", "Each method's protocol beside the paper's sentence about it",
                     header, rows, "Quotes from the paper's Section 4.1; notes from the profile's "
                     "per_method entries (bench/configs).", wrap=True)


# --- the page ----------------------------------------------------------------------------------
def _sample_sections(runs: list[RunInfo], rows: pd.DataFrame) -> list[figures.SampleGrid]:
    """Grids per dataset; sample-dataset runs get one grid per domain (image ids from the rows)."""
    by_dataset: dict[str, list[RunInfo]] = {}
    for run in runs:
        if run.samples_dir.is_dir():
            by_dataset.setdefault(run.dataset, []).append(run)
    grids = []
    for dataset, group in by_dataset.items():
        methods = [r.method for r in group]
        labels = [r.method if methods.count(r.method) == 1 else f"{r.method} [{r.run_id}]" for r in group]
        sources = [figures.SampleSource(label, r.method, r.samples_dir) for label, r in zip(labels, group)]
        if dataset != tables.SAMPLE_DATASET:
            grids += figures.sample_grids(sources, dataset)
            continue
        sample_rows = rows[rows["run_id"].isin([r.run_id for r in group])]
        for domain, ids in sample_rows.groupby("domain", sort=False)["image_id"]:
            title = f"sample {domain} (proxy for {tables.DOMAIN_TO_DATASET[domain]})"
            grids += figures.sample_grids(sources, title, only=set(ids))
    return grids


def build_report(run_dirs: list[Path], out_dir: Path, *, l1: str = tables.DEFAULT_L1,
                 title: str | None = None, paper_csv: Path | None = None,
                 data_counts: Mapping[str, Mapping[str, int]] | None = None,
                 n_boot: int = 1000, seed: int = 0,
                 protocols: Sequence[profiles.BaselineProtocol] = ()) -> Path:
    """Write out_dir/report.html (self-contained, written atomically); returns its path.

    `data_counts` ({dataset: {split: images found}}, from the data check) fills Table 1's
    "found" column; `paper_csv` defaults to results/paper/paper_tables.csv; `protocols` (a
    profile's `BaselineProtocol`s) adds the section setting each method's protocol beside the
    paper's sentence about it."""
    metrics.check_l1(l1)
    if not run_dirs:
        raise ValueError("build_report: no run folders given")
    runs = [read_run(Path(p)) for p in run_dirs]
    rows = tables.load_rows([r.path for r in runs])
    paper = tables.load_paper(paper_csv)
    built = tables.build_tables(rows, paper, l1=l1, data_counts=data_counts, n_boot=n_boot, seed=seed)

    specs = {spec.key: spec for spec in tables.TABLE_SPECS}
    table_views = [frame_view("table1", tables.TABLE_TITLES["table1"], built["table1"],
                              status_column="status",
                              note="paper: the paper's Table 1; found: the data check's count; "
                                   "evaluated: distinct test images in our rows.")]
    provenance = {run.run_id: run.provenance() for run in runs}
    table_views += [paper_table_view(specs[key], built[key], provenance) for key in specs]
    plots = [(specs[key].title, figures.data_uri(figures.bucket_figure(built[key], specs[key].title)))
             for key in specs if specs[key].per_bucket]
    losses = [(run.run_id, figures.data_uri(figures.loss_figure(run.losses, f"{run.run_id} ({run.method})")))
              for run in runs if run.losses is not None and not run.losses.empty]
    smoke = [r.run_id for r in runs if r.profile in SMOKE_PROFILES]
    banners = []
    if smoke:
        banners.append(f"{SMOKE_BANNER} ({', '.join(smoke)})")
    if (rows["source"] == tables.SOURCE_SAMPLE).any():
        banners.append(SAMPLE_BANNER)
    html = _environment().get_template("report.html").render(
        title=title or f"inpaint-bench report: {', '.join(r.run_id for r in runs)}",
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        banners=banners,
        runs=runs_view(runs, rows),
        tables=table_views,
        paired=paired_view(built["paired"]),
        audit=audit_views(built["audit"]),
        findings=audit.findings(built["audit"]),
        plots=plots,
        losses=losses,
        grids=_sample_sections(runs, rows),
        protocol=protocol_view(runs, l1),
        baselines=baseline_protocol_view(protocols, runs) if protocols else None,
    )
    path = Path(out_dir) / "report.html"
    write_text(path, html)
    return path


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(["html"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
