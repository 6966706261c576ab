"""The per-image evaluation rows (eval/rows.csv and its per-process shards): the one definition
of their columns, their key, and the only code that writes, reads or merges them.

A rows file is an append-only CSV: a header, then one row per (checkpoint, mask setting, image)
scored. Each batch is appended whole and fsynced, so a killed evaluation leaves at most a torn
last line, which every reader ignores and the next writer cuts off.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd

from bench import runs
from bench.metrics import METRICS

TEXT_COLUMNS = ("run_id", "method", "checkpoint", "dataset", "domain", "image_id", "mask_id",
                "mask_setting", "bucket")
NUMBER_COLUMNS = ("hole_ratio", *METRICS)
COLUMNS = (*TEXT_COLUMNS, *NUMBER_COLUMNS, "protocol")
"""`protocol` records the method's evaluation choices (Method.protocol(), e.g. a sample-selection rule)."""
KEY_COLUMNS = ("run_id", "checkpoint", "mask_setting", "bucket", "image_id", "mask_id")
"""One row per key: a rerun or a shard merge keeps the first row of a key (the tables the last)."""


def key(row: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(row[c] for c in KEY_COLUMNS)


def protocol_text(protocol: Mapping[str, object]) -> str:
    """The `protocol` column of a method's Method.protocol()."""
    return ";".join(f"{k}={v}" for k, v in sorted(protocol.items()))


class Writer:
    """Appends rows to one rows file (writing its header first if it has none), one fsync per
    call; a torn last line left by a killed process is cut off first."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        runs.repair_log(self.path)
        if not self.path.is_file() or self.path.stat().st_size == 0:
            runs.append_lines(self.path, [runs.csv_line(list(COLUMNS))])

    def write(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Append `rows` (each a mapping with every column of COLUMNS)."""
        runs.append_lines(self.path, [runs.csv_line([row[c] for c in COLUMNS]) for row in rows])


def read(path: Path) -> Iterator[dict[str, str]]:
    """Stream the complete rows of a rows file as text (a torn last line is ignored; a missing
    file has none)."""
    if not Path(path).is_file():
        return
    with Path(path).open(newline="") as handle:
        lines = (line for line in handle if line.endswith("\n"))
        yield from csv.DictReader(lines)


def read_frame(path: Path) -> pd.DataFrame:
    """One rows file as a DataFrame, checked against COLUMNS; text columns stay text (empty,
    not NaN), the rest are numbers."""
    frame = pd.read_csv(path, dtype={c: str for c in (*TEXT_COLUMNS, "protocol")})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)}")
    frame = frame[list(COLUMNS)].copy()
    for column in (*TEXT_COLUMNS, "protocol"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


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


def scored_images(run: runs.RunFolder, checkpoint: str) -> dict[tuple[str, str], set[str]]:
    """(mask_setting, bucket) → image ids already scored with `checkpoint`, in the rows file
    and its shards."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in [run.rows_file, *run.row_parts()]:
        for row in read(path):
            if row["checkpoint"] == checkpoint:
                found.setdefault((row["mask_setting"], row["bucket"]), set()).add(row["image_id"])
    return found
