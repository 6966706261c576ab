"""The one place a record file is read back: text, JSON, YAML and CSV records.

Every reader of a run folder's or report folder's files (manifest.json, config.yaml,
method.json, split.json, results.json, rows.csv, losses.csv, a checkpoint's .sha256) goes
through here, so any decode, parse, missing-key or type error becomes one `RecordError` line:
the file, what is wrong (the byte, line, key or value) and what to do. CSV records are
append-only logs: only complete lines are read (a torn last line left by a killed writer is
ignored), and a header other than the record's columns is refused.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml


EMPTY = "empty file"  # the problem of a record file with no content (a write that never happened)


class RecordError(ValueError):
    """A record file that cannot be read as what it should hold; the message says which file,
    what is wrong and what to do."""


def fail(path: Path | str, problem: str, fix: str) -> RecordError:
    """The one-line error for record `path`: `problem`, then `fix`."""
    return RecordError(f"{path}: {problem}; {fix}")


@contextlib.contextmanager
def reading(path: Path | str, fix: str) -> Iterator[None]:
    """Turn any decode, parse, missing-key or type error inside into one RecordError naming
    `path`, what is wrong, and `fix` (what to do). Errors that already name their file pass."""
    try:
        yield
    except RecordError:
        raise
    except UnicodeDecodeError as error:
        raise fail(path, f"not UTF-8 text (byte {error.object[error.start:error.start + 1]!r} at "
                         f"offset {error.start})", fix) from None
    except json.JSONDecodeError as error:
        raise fail(path, f"not valid JSON (line {error.lineno} column {error.colno}: {error.msg})",
                   fix) from None
    except yaml.YAMLError as error:
        raise fail(path, f"not valid YAML ({' '.join(str(error).split())})", fix) from None
    except KeyError as error:
        raise fail(path, f"no key {error.args[0]!r}", fix) from None
    except (TypeError, ValueError, IndexError, AttributeError, csv.Error) as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        if detail.startswith(str(path)):  # a checker that names the file itself (typed records)
            raise RecordError(f"{detail}; {fix}") from None
        raise fail(path, detail, fix) from None


def text(path: Path | str, fix: str) -> str:
    """The file's text (UTF-8); a missing or unreadable file is one line too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise fail(path, f"cannot read ({error.strerror or error})", fix) from None
    with reading(path, fix):
        return data.decode("utf-8")


def json_object(path: Path | str, fix: str) -> dict[str, Any]:
    """A JSON file that must hold an object."""
    with reading(path, fix):
        data = json.loads(text(path, fix))
    return expect_mapping(path, data, fix, "JSON")


def yaml_mapping(path: Path | str, fix: str, parse: Any = yaml.safe_load) -> dict[str, Any]:
    """A YAML file that must hold a mapping; an empty file (or one of comments only) is refused
    as such, never read as a mapping of no keys."""
    content = text(path, fix)
    with reading(path, fix):
        data = parse(content)
    if data is None:
        raise fail(path, EMPTY if not content.strip() else "holds only comments, no keys", fix)
    return expect_mapping(path, data, fix, "YAML")


def expect_mapping(path: Path | str, data: Any, fix: str, kind: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise fail(path, f"holds a {kind} {type(data).__name__}, expected an object of keys", fix)
    return data


def csv_rows(path: Path | str, columns: Sequence[str], fix: str,
             numbers: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The complete rows of an append-only CSV whose header is `columns` (a torn last line is
    ignored, so a file a writer was killed in before its header ended has none); `numbers` are
    parsed as floats. Each problem names its line."""
    lines = [line for line in text(path, fix).splitlines(keepends=True) if line.endswith("\n")]
    if not lines:
        return []
    parsed = csv.reader(lines)
    with reading(path, fix):
        header = next(parsed)
    if header != list(columns):
        missing = [c for c in columns if c not in header]
        problem = (f"missing column(s) {', '.join(missing)}" if missing
                   else f"header {','.join(header)!r} is not {','.join(columns)!r}")
        raise fail(path, f"line 1: {problem}", fix)
    found = []
    for number, values in enumerate(parsed, start=2):
        if len(values) != len(columns):
            raise fail(path, f"line {number}: {len(values)} fields, expected {len(columns)}", fix)
        row: dict[str, Any] = dict(zip(columns, values))
        for column in numbers:
            try:
                row[column] = float(row[column])
            except ValueError:
                raise fail(path, f"line {number}: {column} {row[column]!r} is not a number", fix) from None
        found.append(row)
    return found
