"""The suite's guard over the checkout (tests/checkout_guard.py) sees what a stray test leaves:
a file or folder under results/, a tracked file changed or deleted; and nothing when untouched."""

import os
import subprocess

from tests import checkout_guard


def _checkout(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "paper").mkdir(parents=True)
    (tmp_path / "results" / "paper" / "tables.csv").write_text("a\n")
    (tmp_path / "untracked.txt").write_text("scratch")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "bench", "results"], cwd=tmp_path, check=True)
    return tmp_path


def test_an_untouched_checkout_has_no_changes(tmp_path):
    root = _checkout(tmp_path)
    before = checkout_guard.snapshot(root)
    assert "bench/code.py" in before and "results/paper/tables.csv" in before
    (root / "untracked.txt").write_text("changed, but neither tracked nor under results/")
    assert checkout_guard.changes(before, checkout_guard.snapshot(root)) == []


def test_a_split_cache_written_under_results_is_named(tmp_path):
    root = _checkout(tmp_path)
    before = checkout_guard.snapshot(root)
    (root / "results" / "cache" / "splits" / "dtd").mkdir(parents=True)
    (root / "results" / "cache" / "splits" / "dtd" / "test.txt").write_text("/tmp/pytest-1/x.jpg\n")
    assert checkout_guard.changes(before, checkout_guard.snapshot(root)) == [
        "added results/cache/", "added results/cache/splits/", "added results/cache/splits/dtd/",
        "added results/cache/splits/dtd/test.txt"]


def test_a_tracked_file_changed_or_deleted_is_named(tmp_path):
    root = _checkout(tmp_path)
    before = checkout_guard.snapshot(root)
    code = root / "bench" / "code.py"
    code.write_text("x = 2\n")
    os.utime(code, ns=(before["bench/code.py"][1] + 10**9,) * 2)  # a later mtime, whatever the clock's grain
    (root / "results" / "paper" / "tables.csv").unlink()
    assert checkout_guard.changes(before, checkout_guard.snapshot(root)) == [
        "modified bench/code.py", "removed results/paper/tables.csv"]
