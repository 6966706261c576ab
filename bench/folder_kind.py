"""What a folder given as a run folder is, when it is not one: `status` says so in words (a
report folder, a test-set export, a mask set, a folder of runs, an empty folder) instead of
naming a manifest.json that was never meant to be there.

A run folder is one holding its manifest.json, its config.yaml or its lock (a run that never
started); anything else is told apart by the file its own command writes first or last.
"""

from __future__ import annotations

from pathlib import Path

from bench import lock
from bench.data import masks
from bench.runs import RunFolder

SHOWN_RUNS = 3  # runs named when a folder of runs is given


def is_run(path: Path) -> bool:
    folder = RunFolder(Path(path))
    return any(p.is_file() for p in (folder.manifest_file, folder.config_file, lock.lock_file(folder.path)))


def not_a_run(path: Path) -> str | None:
    """None for a run folder; else what `path` is, with what to do, in one line."""
    from bench import testset  # torch, only for a folder that is no run
    from bench.report.results import ReportFolder

    path = Path(path)
    if not path.exists():
        return "no such folder"
    if not path.is_dir():
        return "a file, not a run folder"
    if is_run(path):
        return None
    if not any(path.iterdir()):
        return "an empty folder, not a run folder: nothing was written here"
    report = ReportFolder(path)
    if report.results_file.is_file() or report.html_file.is_file():
        return f"a report folder (written by `report`), not a run folder: open {report.html_file.name}"
    if (path / testset.PROTOCOL_FILE).is_file():
        return ("a test-set export (written by `testset export`), not a run folder: score outputs against it "
                f"with `evaluate --predictions DIR --name NAME --testset {path}`")
    if (path / masks.MANIFEST).is_file():
        return "a mask set (written by `masks make`), not a run folder: use it as data.mask_dir"
    inside = sorted(child.name for child in path.iterdir() if child.is_dir() and is_run(child))
    if inside:
        shown = ", ".join(inside[:SHOWN_RUNS]) + (", …" if len(inside) > SHOWN_RUNS else "")
        return (f"a folder of {len(inside)} run(s), not a run: use status on one of them ({shown}), "
                f"or on all: status {path}/*")
    return f"not a run folder (no {RunFolder(path).manifest_file.name} or {RunFolder(path).config_file.name})"
