"""The per-image evaluation rows (eval/rows.csv and its per-process shards): the one definition
of their columns, their key, and the only code that writes, reads or merges them.

A rows file is an append-only CSV: a header, then one row per (checkpoint, mask setting, image)
scored. Each batch is appended whole and fsynced, so a killed evaluation leaves at most a torn
last line, which the one reader (`read`, through bench.records.reading) ignores and the next
writer cuts off. The evaluated checkpoint is identified by its file's sha256 (`checkpoint_sha256`,
its file name beside it), so two different files never share rows; a rows file written before
that column existed is refused, saying to evaluate again. A checkpoint of another run scored with
`evaluate --foreign` is labelled in its rows' `protocol` (`FOREIGN`, `foreign_source`). Beside
it, eval/plan.json records what the evaluation of each checkpoint (by sha256) set out to score:
its mask settings, images per setting and mask seed (`record_plan`, `read_plan`), so an
incomplete one can be told (bench.coverage) and one checkpoint's rows are never scored under two
mask seeds: its result set has one seed, and another is refused (`PlanError`); and the test
split it drew them from ({count, sha256}), so a split short of the dataset's published size is
never shown as the full one (bench.tables).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from bench import runs
from bench.metrics import METRICS
from bench.records import reading

TEXT_COLUMNS = ("run_id", "method", "checkpoint", "checkpoint_sha256", "dataset", "domain", "image_id", "mask_id",
                "mask_setting", "bucket")
NUMBER_COLUMNS = ("hole_ratio", *METRICS)
COLUMNS = (*TEXT_COLUMNS, *NUMBER_COLUMNS, "protocol")
"""`protocol` records the method's evaluation choices (Method.protocol(), e.g. a sample-selection rule)."""
SCORED_ANYWAY = "refused by the known-pixel check, scored anyway"
"""The `protocol` key of supplied outputs scored with --accept-changed-known although the
known-pixel check (bench.known_pixels) refused some; its value says how many (bench.predictions)."""
KEY_COLUMNS = ("run_id", "checkpoint", "checkpoint_sha256", "mask_setting", "bucket", "image_id", "mask_id")
"""One row per key: a rerun or a shard merge keeps the first row of a key (the tables the last)."""
FIX = ("rows are made again by scoring: move the file aside and run `inpaint-bench evaluate RUN` "
       "(a rows file without checkpoint_sha256 predates checkpoint identities: evaluate again too)")


def key(row: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(row[c] for c in KEY_COLUMNS)


def protocol_text(protocol: Mapping[str, object], foreign: str | None = None) -> str:
    """The `protocol` column of a method's Method.protocol(); `foreign`: the run the scored
    checkpoint comes from when it is not the run's own (`evaluate --foreign`), as `FOREIGN`."""
    items = sorted(protocol.items()) + ([] if foreign is None else [(FOREIGN, foreign)])
    return ";".join(f"{k}={v}" for k, v in items)


FOREIGN = "foreign_checkpoint"
"""The protocol item of rows scored from another run's checkpoint; its value names that run."""


def foreign_source(protocol: str) -> str | None:
    """The run a row's checkpoint comes from if it was scored as foreign (`protocol_text`), else None."""
    marked = [item for item in protocol.split(";") if item.startswith(f"{FOREIGN}=")]
    return marked[-1].removeprefix(f"{FOREIGN}=") if marked else None


class Writer:
    """Appends rows to one rows file (writing its header first if it has none), one fsync per
    call; a torn last line left by a killed process is cut off first."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        runs.repair_log(self.path)
        if not self.path.is_file() or self.path.stat().st_size == 0:
            runs.append_lines(self.path, [runs.csv_line(list(COLUMNS))])
        read(self.path)  # appending to a damaged or older rows file would mix them: refuse it

    def write(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Append `rows` (each a mapping with every column of COLUMNS)."""
        runs.append_lines(self.path, [runs.csv_line([row[c] for c in COLUMNS]) for row in rows])


def read(path: Path, numbers: bool = False) -> list[dict[str, object]]:
    """The complete rows of a rows file (a torn last line is ignored; a missing file has none),
    as text, or with NUMBER_COLUMNS as floats; a damaged file is one RecordError line."""
    if not Path(path).is_file():
        return []
    return reading.csv_rows(path, COLUMNS, FIX, NUMBER_COLUMNS if numbers else ())


def read_frame(path: Path) -> pd.DataFrame:
    """One rows file as a DataFrame of COLUMNS: text columns stay text, the rest are numbers."""
    found = read(path, numbers=True)
    return pd.DataFrame(found, columns=list(COLUMNS)).astype(
        {c: float if c in NUMBER_COLUMNS else str for c in COLUMNS}) if found else empty_frame()


def empty_frame() -> pd.DataFrame:
    """A frame with COLUMNS and no row (what no rows file reads as)."""
    return pd.DataFrame({c: pd.Series(dtype=float if c in NUMBER_COLUMNS else str) for c in COLUMNS})


def drop_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per key (KEY_COLUMNS), the last one kept."""
    return frame.drop_duplicates(subset=list(KEY_COLUMNS), keep="last").reset_index(drop=True)


def merge_parts(run: runs.RunFolder) -> None:
    """Append the shards' rows that the run's rows file lacks to it, then delete the shards."""
    parts = run.row_parts()
    if not parts:
        return
    target = run.rows_file
    runs.repair_log(target)
    seen = {key(r) for r in read(target)}
    header = [] if target.is_file() and target.stat().st_size else [runs.csv_line(list(COLUMNS))]
    with target.open("a") as handle:
        handle.write("".join(header))
        for part in parts:
            for row in read(part):
                if key(row) not in seen:
                    seen.add(key(row))
                    handle.write(runs.csv_line([row[c] for c in COLUMNS]))
        handle.flush()
        os.fsync(handle.fileno())
    for part in parts:
        part.unlink()


def scored_images(run: runs.RunFolder, sha256: str) -> dict[tuple[str, str], set[str]]:
    """(mask_setting, bucket) → image ids already scored with the checkpoint of content
    `sha256`, in the rows file and its shards."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in [run.rows_file, *run.row_parts()]:
        for row in read(path):
            if row["checkpoint_sha256"] == sha256:
                found.setdefault((row["mask_setting"], row["bucket"]), set()).add(row["image_id"])
    return found


PLAN_FIX = "move it aside and run `inpaint-bench evaluate RUN` again to record it"


class PlanError(ValueError):
    """An evaluation that would mix a second mask seed into one checkpoint's rows."""


def read_plan(run: runs.RunFolder) -> dict[str, dict[str, object]]:
    """{checkpoint sha256: {"masks": [eval.masks names], "count": images per setting,
    "mask_seed": the masks' seed, "test_split": {count, sha256}}}; {} when the run has no plan
    file (rows written before plans were recorded). An entry written before seeds or splits were
    recorded has no "mask_seed" or "test_split"."""
    if not run.plan_file.is_file():
        return {}
    plan = reading.json_object(run.plan_file, PLAN_FIX)
    for sha, entry in plan.items():
        split = entry.get("test_split") if isinstance(entry, dict) else None
        if not (isinstance(entry, dict) and isinstance(entry.get("masks"), list)
                and isinstance(entry.get("count"), int)
                and (split is None or (isinstance(split, dict) and isinstance(split.get("count"), int)))
                and isinstance(entry.get("mask_seed", 0), int)):
            raise reading.fail(run.plan_file, f"{sha[:12]}…: expected {{masks: list, count: int, "
                               "mask_seed: int, test_split: {count: int, sha256}}}", PLAN_FIX)
    return plan


def record_plan(run: runs.RunFolder, sha256: str, masks: Iterable[str], count: int,
                test_split: Mapping[str, object], mask_seed: int, *, name: str, assumed_seed: int) -> None:
    """Add an evaluation's mask settings, image count, test split (bench.data.splits.fingerprint)
    and mask seed to the plan of checkpoint `sha256` (shown as `name`). A seed other than the one
    its rows were scored with is a PlanError, nothing written: one checkpoint's rows are one mask
    seed's. A plan entry written before seeds were recorded is taken as scored with
    `assumed_seed` (the run config's)."""
    plan = read_plan(run)
    entry = plan.get(sha256, {})
    scored = entry.get("mask_seed", assumed_seed) if entry else mask_seed
    if scored != mask_seed:
        raise PlanError(f"{run.plan_file}: {name} was scored with eval.mask_seed={scored}; scoring "
                        f"it with eval.mask_seed={mask_seed} would mix two mask sets in its rows: "
                        f"drop the override, or move {run.eval_dir} aside to score it afresh")
    plan[sha256] = {"masks": list(dict.fromkeys([*entry.get("masks", []), *masks])), "count": count,
                    "test_split": dict(test_split), "mask_seed": mask_seed}
    runs.write_json(run.plan_file, plan)
