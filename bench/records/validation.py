"""Validation during training (validation.csv of a run folder): the one definition of its
columns and the only code that writes, reads or truncates it.

One row per (step, setting): the generator of that step scored on the fixed validation subset
(bench.validation) — mean L1 (the tables' default variant), PSNR, MS-SSIM, the spread of the
predictions across the images (bench.divergence.spread, grey levels) and the seconds it took.
Appended whole and fsynced like losses.csv; a resumed run cuts the rows of the steps it runs
again. A monitor only: nothing selects a checkpoint from it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench import runs
from bench.records import reading

COLUMNS = ("step", "setting", "l1", "psnr", "msssim", "spread", "seconds")
# a run validated before the spread was logged (issue 26) keeps its file: read, resumed and
# reported as it is, its spread missing
EARLIER_COLUMNS = tuple(c for c in COLUMNS if c != "spread")
FIX = "it is a monitor only: move it aside and the next validation starts a new one"


def columns_of(path: Path) -> tuple[str, ...]:
    """The columns a file holds: the earlier ones where its header says so, else COLUMNS."""
    if path.is_file() and reading.text(path, FIX).split("\n", 1)[0] == ",".join(EARLIER_COLUMNS):
        return EARLIER_COLUMNS
    return COLUMNS


def append(path: Path, rows: list[dict[str, object]]) -> None:
    """Append `rows` (each with every column), writing the header first into a new file."""
    runs.repair_log(path)
    columns = columns_of(path)
    lines = [] if path.is_file() and path.stat().st_size else [runs.csv_line(list(columns))]
    runs.append_lines(path, lines + [runs.csv_line([row[c] for c in columns]) for row in rows])


def truncate(path: Path, before_step: int) -> None:
    """Keep the rows of steps < `before_step` (a resumed run validates the rest again)."""
    runs.truncate_steps(path, columns_of(path), FIX, before_step)


def read(path: Path) -> pd.DataFrame | None:
    """The rows (complete lines only, through the one CSV reader), or None when the file is
    absent; a damaged or empty file is one RecordError line naming it."""
    if not path.is_file():
        return None
    if not reading.text(path, FIX).strip():  # no header: nothing our writer leaves behind
        raise reading.fail(path, reading.EMPTY, FIX)
    columns = columns_of(path)
    numbers = [c for c in columns if c != "setting"]
    frame = pd.DataFrame(reading.csv_rows(path, columns, FIX, numbers=numbers), columns=list(columns))
    frame = frame.reindex(columns=list(COLUMNS))  # an earlier file's spread: missing (NaN)
    return frame.astype({"step": "int64", "setting": str, **{c: "float64" for c in COLUMNS[2:]}})


def last_line(path: Path) -> str | None:
    """The last step's rows in one line ("step 60: center PSNR 21.03 dB, …"), or None."""
    frame = read(path)
    if frame is None or frame.empty:
        return None
    step = int(frame["step"].max())
    parts = [f"{r.setting} L1 {r.l1:.2f}%, PSNR {r.psnr:.2f} dB, MS-SSIM {r.msssim:.2f}%"
             for r in frame[frame["step"] == step].itertuples()]
    return f"validation at step {step}: " + "; ".join(parts)
