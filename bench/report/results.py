"""The report stage's first step: run folders in, a self-sufficient report folder out.

`collect(run_dirs, out_dir)` computes every table once (`bench.tables.build_tables`) and writes

    out_dir/results.json     everything the page shows (schema below)
    out_dir/tables/*.csv     one CSV per table (`bench.tables.write_tables`)
    out_dir/samples/<run>/   each run's eval/samples images, copied
    out_dir/losses/<run>.csv each run's losses.csv, copied
    out_dir/validation/<run>.csv each run's validation.csv (validation during training), copied
    out_dir/divergence/<run>.csv each run's divergence.csv (signs of divergence while training), copied

results.json: {"format": 2, "title", "generated" (UTC), "l1", "n_boot", "seed", "banners",
"floor" (the floor sentence of a smoke-scale report, `bench.report.floor`, else null), "budget"
(`bench.report.budget.summary`: the trained runs' budget, or null), "headline"
(`bench.report.headline.sentences`), "findings" (the paper audit's), "runs": [one `ReportRun` each: ids, provenance, manifest,
method card with its departures, config, evaluated checkpoints, copied losses/samples],
"tables": {key: rows, each with ours, its 95% CI, the paper's value, Δ and status},
"protocols": [the profile's `BaselineProtocol`s]}. `bench.report.build.render` draws
report.html from these files alone; results.json is written last, so its presence means the
folder is complete.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from bench import audit, coverage, metrics, profiles, tables, typed
from bench.records import manifest as manifest_record
from bench.records import reading
from bench.records import rows as rows_record
from bench.records import divergence as divergence_record
from bench.records import validation as validation_record
from bench.records.manifest import Manifest
from bench.records.run_folder import RunRecord, lookup, read_losses, read_run_folder
from bench.report import budget, floor, headline
from bench.runs import TRAINING_FREE_PROVENANCE, read_json, run_status, write_bytes, write_json

FORMAT = 2
SMOKE_BANNER = "smoke-scale run, not comparable with the paper"
SAMPLE_BANNER = ("sample dataset: numbers are a proxy for the paper datasets "
                 "(sample proxy, not comparable)")
PARTIAL_BANNER = "partial results, not the whole evaluation (--partial)"
RECIPE_LABELS = {**profiles.RECIPE_LABELS, None: "own config (no profile recipe)"}
TRAINING_FREE_LABEL = "training-free reference"


@dataclass(frozen=True)
class ReportFolder:
    """The files of a report folder (the one place that names them)."""

    path: Path

    @property
    def results_file(self) -> Path:
        return self.path / "results.json"

    @property
    def tables_dir(self) -> Path:
        return self.path / "tables"

    @property
    def html_file(self) -> Path:
        return self.path / "report.html"

    def samples_dir(self, run_id: str) -> Path:
        return self.path / "samples" / run_id

    def losses_file(self, run_id: str) -> Path:
        return self.path / "losses" / f"{run_id}.csv"

    def validation_file(self, run_id: str) -> Path:
        return self.path / "validation" / f"{run_id}.csv"

    def divergence_file(self, run_id: str) -> Path:
        return self.path / "divergence" / f"{run_id}.csv"


def provenance_text(manifest: Manifest | None, digits: int = 12) -> str:
    """Where a run's weights come from, e.g. "trained — authors' recipe" or "released weights
    (gen.pth, sha256 …)" (sha256 shortened to `digits` hex digits)."""
    found = (manifest.provenance if manifest else None) or {}
    if found.get("kind") == "released":
        files = "; ".join(f"{name}, sha256 {digest[:digits]}" for name, digest in found.get("files", {}).items())
        return f"released weights {found.get('release', '')} ({files})".replace("  ", " ")
    if found.get("kind") == manifest_record.SUPPLIED_KIND:
        return (f"outputs supplied by the user ({found.get('count')} files, "
                f"sha256 of their listing {str(found.get('files', ''))[:digits]})")
    if found.get("kind") == TRAINING_FREE_PROVENANCE["kind"]:
        return TRAINING_FREE_LABEL
    if found.get("kind") == "shared":
        recipe = found.get("recipe")
        return (f"trained once in run {found.get('run')} ({found.get('checkpoint')}): the same network "
                f"and {RECIPE_LABELS.get(recipe, f'{recipe} recipe')}")
    if found.get("kind") == "trained":
        recipe = found.get("recipe")
        return f"trained — {RECIPE_LABELS.get(recipe, f'{recipe} recipe')}"
    if manifest and manifest.official_checkpoint:
        return f"official checkpoint ({manifest.official_checkpoint})"
    return "trained — recipe not recorded"


@dataclass(frozen=True)
class ReportRun:
    """One run as results.json records it: all the page needs, nothing read from the run folder."""

    run_id: str
    method: str
    dataset: str
    profile: str | None
    released: bool
    provenance: str  # short (sha256 to 12 digits)
    provenance_full: str  # whole sha256
    manifest: Manifest | None  # None for a folder without manifest.json
    card: dict[str, Any]
    config: dict[str, Any]
    evaluated: list[str]  # checkpoints its rows come from
    last_step: int | None  # last step in its losses
    losses: str | None  # copied losses file, relative to the report folder
    samples: str | None  # copied samples folder, relative to the report folder
    status: str  # as `inpaint-bench status` said when the report was collected
    sample_ids: dict[str, list[str]] = field(default_factory=dict)  # sample dataset: domain → image ids
    training_free: bool = False  # a training-free reference (nothing trained or loaded)
    validation: str | None = None  # copied validation.csv, relative to the report folder
    levels: dict[str, float] = field(default_factory=dict)  # eval setting name → mean PSNR (bench.report.floor)
    divergence: str | None = None  # copied divergence.csv, relative to the report folder
    # the `comparable` flag of the profile that planned it (bench/configs); None: no such profile
    profile_comparable: bool | None = None
    # eval/plan.json's entries of the checkpoints its rows come from (sha256 → mask settings,
    # images per setting, mask seed, test split): what its evaluation scored, not what config.yaml says
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def smoke(self) -> bool:
        """Planned by a profile that says its numbers are not comparable with the paper's."""
        return self.profile_comparable is False

    @property
    def trained(self) -> bool:
        """Trained by this harness (itself or in its twin's run), not evaluated from weights or outputs."""
        kind = (self.manifest.provenance or {}).get("kind") if self.manifest else None
        official = bool(self.manifest and self.manifest.official_checkpoint)
        return kind in ("trained", "shared") or (kind is None and not official)

    def setting(self, dotted: str, default: Any = None) -> Any:
        """The config value under an exact dotted key ("data.size"), else `default`."""
        return lookup(self.config, dotted, default)


def run_record(run: ReportRun) -> dict[str, Any]:
    """A run as results.json holds it (its manifest as manifest.json holds it)."""
    return {**dataclasses.asdict(run), "manifest": run.manifest.to_dict() if run.manifest else None}


def read_report_run(path: Path, data: dict[str, Any]) -> ReportRun:
    """A run read back from results.json at `path`, its manifest checked as a manifest."""
    manifest = data.get("manifest")
    run = ReportRun(**{**data, "manifest": None if manifest is None
                       else manifest_record.from_dict(path, manifest)})
    typed.check_name(run.run_id, "run_id", ValueError)  # it names the report's copied files
    return run


def _copy_tree(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    for path in sorted(source.rglob("*")):
        if path.is_file():
            write_bytes(target / path.relative_to(source), path.read_bytes())


def _report_run(record: RunRecord, rows: pd.DataFrame, folder: ReportFolder,
                levels: Mapping[str, Mapping[str, float]]) -> ReportRun:
    run_id = typed.check_name(record.run_id, f"{record.path}: run id", ValueError)  # names report files
    own = rows[rows["run_id"] == run_id]
    evaluated = [name if (source := rows_record.foreign_source(protocol)) is None
                 else f"{name} (foreign: a checkpoint of run {source})"
                 for name, protocol in own[["checkpoint", "protocol"]].drop_duplicates().itertuples(index=False)]
    losses = samples = validation = divergence = None
    if record.folder.validation_file.is_file():
        write_bytes(folder.validation_file(run_id), record.folder.validation_file.read_bytes())
        validation = str(folder.validation_file(run_id).relative_to(folder.path))
    if record.folder.divergence_file.is_file():
        write_bytes(folder.divergence_file(run_id), record.folder.divergence_file.read_bytes())
        divergence = str(folder.divergence_file(run_id).relative_to(folder.path))
    if record.losses is not None:
        write_bytes(folder.losses_file(run_id), record.folder.losses_file.read_bytes())
        losses = str(folder.losses_file(run_id).relative_to(folder.path))
    if record.samples_dir.is_dir():
        _copy_tree(record.samples_dir, folder.samples_dir(run_id))
        samples = str(folder.samples_dir(run_id).relative_to(folder.path))
    sample_ids = {}
    if record.dataset == tables.SAMPLE_DATASET:
        sample_ids = {domain: list(dict.fromkeys(ids)) for domain, ids in own.groupby("domain", sort=False)["image_id"]}
    last = None if record.losses is None or record.losses.empty else int(record.losses["step"].max())
    plan = rows_record.read_plan(record.folder)
    plans = {sha: plan[sha] for sha in own["checkpoint_sha256"].unique() if sha in plan}
    return ReportRun(run_id, record.method, record.dataset, record.profile,
                     record.provenance.get("kind") == "released", provenance_text(record.manifest),
                     provenance_text(record.manifest, 64), record.manifest, record.card, record.config,
                     evaluated, last, losses, samples,
                     run_status(record.folder)[0], sample_ids,
                     record.provenance.get("kind") == TRAINING_FREE_PROVENANCE["kind"], validation,
                     dict(levels.get(run_id, {})), divergence, profiles.comparable(record.profile), plans)


def divergence_banner(record: RunRecord) -> str | None:
    """The run's first sign of divergence in one sentence (and whether it stopped there), or None."""
    found = divergence_record.read(record.folder.divergence_file)
    if not found:
        return None
    first = min(found, key=lambda s: s.step)
    stopped = record.manifest is not None and record.manifest.diverged_at is not None
    return (f"{record.run_id}: diverged at step {first.step} ({first.message})"
            + ("; it stopped there (train.stop_on_divergence): its rows score its last checkpoint before it, "
               "not a full-budget run" if stopped else "; training went on"))


def table_record(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as results.json holds it: its column types and its rows (missing values null)."""
    return {"columns": {column: str(dtype) for column, dtype in frame.dtypes.items()},
            "rows": json.loads(frame.to_json(orient="records", double_precision=15))}


def table_frame(record: Mapping[str, Any]) -> pd.DataFrame:
    """`table_record` read back into the frame it came from."""
    columns = record["columns"]
    return pd.DataFrame(record["rows"], columns=list(columns)).astype(columns)


def collect(run_dirs: Sequence[Path], out_dir: Path, *, l1: str = tables.DEFAULT_L1,
            title: str | None = None, paper_csv: Path | None = None,
            data_counts: Mapping[str, Mapping[str, int]] | None = None,
            n_boot: int = 1000, seed: int = 0,
            protocols: Sequence[profiles.BaselineProtocol] = (), partial: bool = False) -> ReportFolder:
    """Compute the tables once and write the report folder (see the module docstring).

    `data_counts` ({dataset: {split: images found}}, from the data check) fills Table 1's
    "found" column; `paper_csv` defaults to results/paper/paper_tables.csv; `protocols` (a
    profile's `BaselineProtocol`s) adds the section setting each method's protocol beside the
    paper's sentence about it. An incomplete run (`bench.coverage`) is refused, or with
    `partial` shown with a banner and status "partial" on its table rows."""
    metrics.check_l1(l1)
    if not run_dirs:
        raise ValueError("report: no run folders given")
    incomplete = coverage.check(run_dirs, partial)  # refuses two folders of one run id too
    records = [read_run_folder(Path(p)) for p in run_dirs]
    ids = [r.run_id for r in records]
    for record in records:  # the logs to copy, read where they are: a damaged one is named there, nothing written
        validation_record.read(record.folder.validation_file)
        divergence_record.read(record.folder.divergence_file)
    rows = tables.load_rows([r.path for r in records])
    built = coverage.mark(tables.build_tables(rows, tables.load_paper(paper_csv), l1=l1,
                                              data_counts=data_counts, n_boot=n_boot, seed=seed), incomplete)
    folder = ReportFolder(Path(out_dir))
    tables.write_tables(built, folder.tables_dir)
    found = floor.levels(rows)
    runs = [_report_run(record, rows, folder, found) for record in records]
    smoke = [r.run_id for r in runs if r.smoke]
    banners = [f"{SMOKE_BANNER} ({', '.join(smoke)})"] if smoke else []
    sentence = floor.floor_sentence([(r.run_id, r.method, r.training_free) for r in runs], found)
    spent = budget.summary(runs)
    if (rows["source"] == tables.SOURCE_SAMPLE).any():
        banners.append(SAMPLE_BANNER)
    banners += [f"{PARTIAL_BANNER}: {reason}" for reason in incomplete.values()]
    banners += [line for record in records if (line := divergence_banner(record)) is not None]
    write_json(folder.results_file, {
        "format": FORMAT,
        "title": title or f"inpaint-bench report: {', '.join(ids)}",
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "l1": l1, "n_boot": n_boot, "seed": seed,
        "banners": banners,
        "floor": sentence if smoke else None,
        "budget": spent,
        "headline": headline.sentences(built, like_for_like=spent is None or spent["equal"]),
        "findings": audit.findings(built["audit"]),
        "runs": [run_record(run) for run in runs],
        "tables": {key: table_record(frame) for key, frame in built.items()},
        "protocols": [dataclasses.asdict(p) for p in protocols],
    })
    return folder


@dataclass(frozen=True)
class Results:
    """A report folder read back: results.json (with its tables) and the copied losses."""

    folder: ReportFolder
    data: dict[str, Any]
    runs: list[ReportRun]
    tables: dict[str, pd.DataFrame]
    protocols: list[profiles.BaselineProtocol]

    def losses(self, run: ReportRun) -> pd.DataFrame | None:
        return None if run.losses is None else read_losses(self.folder.path / run.losses)

    def samples_dir(self, run: ReportRun) -> Path | None:
        return None if run.samples is None else self.folder.path / run.samples

    def validation(self, run: ReportRun) -> pd.DataFrame | None:
        return None if run.validation is None else validation_record.read(self.folder.path / run.validation)

    def diverged_at(self, run: ReportRun) -> int | None:
        """The step of the run's first sign of divergence (bench.records.divergence), or None."""
        found = [] if run.divergence is None else divergence_record.read(self.folder.path / run.divergence)
        return min((s.step for s in found), default=None)


def read_results(path: Path) -> Results:
    """Read a report folder written by `collect` (nothing outside it)."""
    folder = ReportFolder(Path(path))
    if not folder.results_file.is_file():
        raise FileNotFoundError(f"{folder.results_file}: not found; is {folder.path} a report folder "
                                "(written by `inpaint-bench report RUN … --out DIR`)?")
    fix = "write the report folder again with `inpaint-bench report RUN … --out DIR`"
    data = read_json(folder.results_file, fix)
    if data.get("format") != FORMAT:
        raise reading.fail(folder.results_file, f"format {data.get('format')!r}, expected {FORMAT}", fix)
    with reading.reading(folder.results_file, fix):
        needed = [*(f"tables.{k}" for k in tables.TABLE_TITLES if k not in data["tables"]),
                  *(k for k in ("title", "generated", "l1", "banners", "findings") if k not in data)]
        if needed:
            raise reading.fail(folder.results_file, f"no key {needed[0]!r}", fix)
        frames = {key: table_frame(record) for key, record in data["tables"].items()}
        runs = [read_report_run(folder.results_file, run) for run in data["runs"]]
        protocols = [profiles.BaselineProtocol(p["method"], p["paper_says"], tuple(p["notes"]), p["releases"])
                     for p in data["protocols"]]
    return Results(folder, data, runs, frames, protocols)
