"""What the test suite may not change: the checkout's tracked files and its `results/` folder.

`snapshot(root)` records the size and modification time of every tracked file (when `root` is a
git checkout) and of every file and folder under `root/results`; `changes(before, after)` names
what was added, removed or modified. conftest.py compares the two around the whole session, so a
test that writes outside its temporary folder fails the suite with the paths it left behind.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

Snapshot = dict[str, tuple[int, int]]


def _tracked(root: Path) -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):  # no git, or not a git checkout: results/ is still watched
        return []
    return [name for name in listed.stdout.decode().split("\0") if name]


def snapshot(root: Path) -> Snapshot:
    """{relative path: (size, mtime_ns)} for tracked files and everything under results/ (folders size -1)."""
    found: Snapshot = {}
    for name in _tracked(root):
        try:
            stat = (root / name).stat()
        except FileNotFoundError:
            continue  # deleted in the working tree before the session: its absence is what is compared
        found[name] = (stat.st_size, stat.st_mtime_ns)
    for folder, subfolders, files in os.walk(root / "results"):
        for name in subfolders:
            found[os.path.relpath(os.path.join(folder, name), root) + "/"] = (-1, 0)
        for name in files:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            found[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
    return found


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """Each path added, removed or modified between two snapshots, as 'added PATH' etc., sorted by path."""
    found = [(path, "added") for path in after.keys() - before.keys()]
    found += [(path, "removed") for path in before.keys() - after.keys()]
    found += [(path, "modified") for path in before.keys() & after.keys() if before[path] != after[path]]
    return [f"{kind} {path}" for path, kind in sorted(found)]
