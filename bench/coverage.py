"""Whether a run's rows are the whole evaluation it planned, before tables or a report use them.

A run is incomplete while a live process holds its lock (a trainer or an evaluator is writing
it), when it has no rows, or when the rows of its latest checkpoint do not cover every mask
setting its evaluations set out to score with every planned image (eval/plan.json; for rows
without a plan, the config's `eval.masks` and `eval.count`, at most the test split recorded in
its manifest, else as many images as its fullest setting). `tables` and
`report` refuse an incomplete run with one line; with `--partial` they go on, the report with
a banner per incomplete run and the tables with status "partial" on its rows. Two folders of
one run id are refused by both (each table row and report section is one run's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from bench import lock, tables
from bench.data.masks import EvalSetting
from bench.records import rows as rows_record
from bench.runs import RunError, RunFolder

STATUS_PARTIAL = "partial"


class IncompleteError(RunError):
    """A run whose rows are not its whole planned evaluation, refused without --partial."""


def problem(run_dir: Path) -> str | None:
    """One line saying why the run's rows are incomplete, or None when they are complete."""
    run = RunFolder(Path(run_dir))
    holder = lock.holder(run.path)
    if holder is not None:
        return (f"{run.path}: {lock.describe(holder)} holds its lock (training or evaluation "
                "under way): its rows are incomplete until it ends")
    if not run.rows_file.is_file():
        return f"{run.path}: not evaluated (no {run.rows_file}); run `inpaint-bench evaluate {run.path}`"
    frame = rows_record.read_frame(run.rows_file)
    if frame.empty:
        return (f"{run.rows_file}: no complete row (its evaluation stopped before the first batch); "
                f"run `inpaint-bench evaluate {run.path}`")
    config = run.read_config()
    latest = tables.keep_latest_checkpoint(frame, tables.own_checksums([run.path]),
                                           tables.last_checksums([run.path]))
    counts = latest.groupby(["mask_setting", "bucket"])["image_id"].nunique().to_dict()
    plan = rows_record.read_plan(run).get(latest["checkpoint_sha256"].iloc[0])
    if plan is not None:
        planned, wanted = [EvalSetting(name) for name in plan["masks"]], plan["count"]
    else:
        planned = [EvalSetting(name) for name in config.eval.masks]
        split = run.read_manifest().split if run.manifest_file.is_file() else None
        total = split["test"]["count"] if split else None
        wanted = min(config.eval.count or total, total) if total else config.eval.count
    wanted = wanted or max(counts.values())
    missing = [s.name for s in planned if (s.kind, s.bucket) not in counts]
    short = [f"{s.name} {counts[(s.kind, s.bucket)]} of {wanted} images" for s in planned
             if 0 < counts.get((s.kind, s.bucket), 0) < wanted]
    if not missing and not short:
        return None
    found = "; ".join([*(["missing " + ", ".join(missing)] if missing else []), *short])
    return (f"{run.rows_file}: the rows of {latest['checkpoint'].iloc[0]} cover "
            f"{len(planned) - len(missing) - len(short)} of the {len(planned)} planned mask settings "
            f"({found}); complete them with `inpaint-bench evaluate {run.path}`")


def check(run_dirs: Sequence[Path], partial: bool) -> dict[str, str]:
    """{run id: problem} of the incomplete runs; unless `partial`, the first one is refused as
    one line. A folder that is not a run folder, or a second folder of one run id, is refused
    either way."""
    found, folders = {}, {}
    for run_dir in map(Path, run_dirs):
        run = RunFolder(run_dir)
        if not run.path.is_dir():
            raise FileNotFoundError(f"run folder not found: {run.path}")
        if not run.config_file.is_file():
            raise RunError(f"{run.path}: not a run folder (no config.yaml); give the folder "
                           "`inpaint-bench train` or `evaluate` wrote")
        run_id = run.read_config().run_id
        if run_id in folders:
            raise RunError(f"run id {run_id!r} given more than once ({folders[run_id]} and {run.path}): "
                           "tables and reports hold each run once; give one of them, or make the other "
                           "again under a new id (--run-id NEW)")
        folders[run_id] = run.path
        reason = problem(run_dir)
        if reason is not None and not partial:
            raise IncompleteError(f"{reason}; or give --partial to show it marked partial")
        if reason is not None:
            found[run_id] = reason
    return found


def mark(built: Mapping[str, pd.DataFrame], incomplete: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """The tables with status "partial" on every row of an incomplete run."""
    marked = {}
    for key, frame in built.items():
        if {"run_id", "status"} <= set(frame.columns) and incomplete:
            frame = frame.copy()
            frame.loc[frame["run_id"].isin(list(incomplete)), "status"] = STATUS_PARTIAL
        marked[key] = frame
    return marked
