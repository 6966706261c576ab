"""`data check` and `train` on a real-dataset layout, as a user meets them: one clear error
without a data root (the same for both, naming a flag each accepts), corrupt images flagged by
--verify, and a folder that no longer matches its saved split noticed, with how to re-split."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tests.toy_method", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


@pytest.fixture
def dtd(tmp_path):
    root = tmp_path / "dtd_root"
    for category in ("banded", "woven"):
        for i in range(5):
            path = root / "dtd" / "images" / category / f"{category}_{i:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (24, 20), (40 * i, 90, 200)).save(path)
    return root


def _config(tmp_path):
    path = tmp_path / "dtd.yaml"  # the split lists go to the test's own folder, never the checkout's results/cache
    path.write_text(yaml.safe_dump({
        "run": {"id": "toy-dtd"}, "method": {"name": "toy"},
        "data": {"dataset": "dtd", "size": 16, "cache_dir": str(tmp_path / "cache")},
        "train": {"iterations": 1, "batch_size": 2, "checkpoint_every": 1, "log_every": 1, "sample_every": 1,
                  "num_workers": 0, "device": "cpu"}}))
    return path


def test_no_data_root_is_the_same_clear_error_for_data_check_and_train(tmp_path):
    check = _cli("data", "check", "dtd", "--cache-dir", "cache", cwd=tmp_path)
    trained = _cli("train", str(_config(tmp_path)), "--runs-root", "runs", "--no-progress", cwd=tmp_path)
    for result in (check, trained):
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "dataset 'dtd' needs a data root: --data-root DIR (or data.root=DIR)" in result.stderr
    assert check.stderr == trained.stderr and "found" not in check.stdout


def test_train_takes_the_data_root_flag_it_names(tmp_path, dtd):
    result = _cli("train", str(_config(tmp_path)), "--data-root", str(dtd), "--runs-root", "runs",
                  "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((tmp_path / "runs" / "toy-dtd" / "config.yaml").read_text())["data"]["root"] == str(dtd)


def test_verify_flags_a_corrupt_image_among_good_ones(tmp_path, dtd):
    bad = dtd / "dtd" / "images" / "woven" / "woven_0003.jpg"
    bad.write_bytes(bad.read_bytes()[:40])  # a truncated JPEG: its header still opens
    counted = _cli("data", "check", "dtd", "--data-root", str(dtd), "--cache-dir", "cache", cwd=tmp_path)
    assert "corrupt" not in counted.stdout and "--verify decodes each" in counted.stdout
    verified = _cli("data", "check", "dtd", "--data-root", str(dtd), "--cache-dir", "cache", "--verify",
                    cwd=tmp_path)
    assert verified.returncode == 1
    flagged = [line for line in verified.stdout.splitlines() if line.startswith("  corrupt: ")]
    assert len(flagged) == 1 and "woven_0003.jpg: cannot decode image" in flagged[0]
    assert "1 CORRUPT" in verified.stdout and "decoding dtd" in verified.stderr  # the progress bar


def test_a_folder_that_differs_from_its_saved_split_is_noticed_with_how_to_re_split(tmp_path, dtd):
    args = ("data", "check", "dtd", "--data-root", str(dtd), "--cache-dir", "cache")
    first = _cli(*args, cwd=tmp_path)
    assert "name exactly the folder's images" in first.stdout and "differs" not in first.stdout
    extra = dtd / "dtd" / "images" / "banded" / "banded_0099.jpg"
    Image.new("RGB", (24, 20)).save(extra)
    grown = _cli(*args, cwd=tmp_path)
    assert grown.returncode == 1
    assert "differs from the split saved in cache/splits/dtd" in grown.stdout
    assert "1 image(s) of the folder are in no list (first: dtd/images/banded/banded_0099.jpg)" in grown.stdout
    assert "to re-split, delete cache/splits/dtd" in grown.stdout
    extra.unlink()
    (dtd / "dtd" / "images" / "woven" / "woven_0001.jpg").unlink()
    shrunk = _cli(*args, cwd=tmp_path)
    assert "1 listed image(s) are no longer in it (first: dtd/images/woven/woven_0001.jpg)" in shrunk.stdout
    assert "missing: dtd/images/woven/woven_0001.jpg" in shrunk.stdout
    shutil.rmtree(tmp_path / "cache" / "splits" / "dtd")
    again = _cli(*args, cwd=tmp_path)
    assert "name exactly the folder's images" in again.stdout
