"""Signs of divergence (divergence.csv of a run folder): the one definition of its columns and
the only code that writes, reads or truncates it.

One row per signal as the trainer saw it (bench.divergence): the step, the signal (loss,
validation, collapse), what it concerns (a loss or a validation setting), its value and the
reference it was measured against. Appended whole and fsynced like losses.csv; a resumed run cuts
the rows of the steps it runs again. No file: nothing was seen.
"""

from __future__ import annotations

from pathlib import Path

from bench import runs
from bench.divergence import SIGNALS, Signal
from bench.records import reading

COLUMNS = ("step", "signal", "name", "value", "reference")
FIX = "it is a record of what training saw: restore it, or move it aside (the report then marks nothing)"


def append(path: Path, signals: list[Signal]) -> None:
    """Append `signals`, writing the header first into a new file."""
    runs.repair_log(path)
    lines = [] if path.is_file() and path.stat().st_size else [runs.csv_line(list(COLUMNS))]
    runs.append_lines(path, lines + [runs.csv_line([s.step, s.signal, s.name, repr(s.value), repr(s.reference)])
                                     for s in signals])


def truncate(path: Path, before_step: int) -> None:
    """Keep the rows of steps < `before_step` (a resumed run checks the rest again)."""
    runs.truncate_steps(path, COLUMNS, FIX, before_step)


def read(path: Path) -> list[Signal]:
    """The signals recorded (complete lines only, through the one CSV reader); none when the
    file is absent; a damaged file is one RecordError line naming it."""
    if not path.is_file():
        return []
    rows = reading.csv_rows(path, COLUMNS, FIX, numbers=("step", "value", "reference"))
    found = []
    for number, row in enumerate(rows, start=2):
        if row["signal"] not in SIGNALS:
            raise reading.fail(path, f"line {number}: unknown signal {row['signal']!r}", FIX)
        found.append(Signal(int(row["step"]), row["signal"], row["name"], row["value"], row["reference"]))
    return found


def lines(path: Path) -> list[str]:
    """One line per recorded signal ("divergence at step 360: loss g_hole …"), for `status`."""
    return [f"divergence at step {s.step}: {s.message}" for s in read(path)]
