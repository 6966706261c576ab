"""The prepared device check (bench/benchmarks/device_check.py) runs whole in its CPU smoke mode,
so it cannot rot before a GPU is lent: every case records its figures as it goes, bf16 and
channels_last keep every trained method finite, channels_last gives float32's output, a failing
or overlong case is recorded and the check goes on, and the official PEN-Net case runs a checkout."""

import argparse
import contextlib
import csv
import io
import json
import sys
import time
from pathlib import Path

import pytest

from bench.benchmarks import device_check, official_pennet
from bench.cli import main

CPU_CHANNELS_LAST_TOLERANCE = 1e-4  # |channels_last − float32| on CPU: max absolute, and mean relative

FAKE_PENNET = '''
import torch
from torch import nn


class InpaintGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, img, mask):
        output = torch.tanh(self.conv(img))
        return [nn.functional.avg_pool2d(output, 2)], output


class Discriminator(nn.Module):
    def __init__(self, in_channels, use_sigmoid=False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 1, 4, stride=2)

    def forward(self, x):
        return self.conv(x)
'''


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One smoke run from the command line: (its printed lines, its JSON record, the CSV's rows)."""
    folder = tmp_path_factory.mktemp("device_check")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["benchmark", "device_check", "--smoke", "--out", str(folder / "out"),
                     "--work", str(folder / "work")]) == 0
    (record_file,) = (folder / "out").glob("device_check-*.json")
    with record_file.with_suffix(".csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return printed.getvalue().splitlines(), json.loads(record_file.read_text()), rows


def test_the_smoke_run_goes_through_every_case_in_order_and_prints_the_summary_last(smoke):
    printed, record, rows = smoke
    cases = list(dict.fromkeys(r["case"] for r in record["results"]))
    trained = device_check.trained_methods()
    assert cases == ["environment", *(f"speed {m}" for m in trained), "parity", "torchrun 2",
                     "quick profile", "official pennet"]
    assert {r["status"] for r in record["results"] if r["case"] != "official pennet"} == {"ok"}
    assert [r["case"] for r in rows] == [r["case"] for r in record["results"]]  # the CSV holds every row
    assert rows[0]["torch"] and record["environment"]["git_sha"] is not None
    # the summary table closes the output: one line per recorded figure
    summary = printed[-len(record["results"]):]
    assert [line.split()[0] for line in summary] == [r["case"].split()[0] for r in record["results"]]
    # the 2-process torchrun case trained under gloo and finished
    (run,) = [r for r in record["results"] if r["case"] == "torchrun 2"]
    assert run["backend"] == "gloo" and run["world_size"] == 2 and run["run_status"] == "finished"
    # the quick profile, narrowed to mean fill, lands on the committed CPU figure
    (fill,) = [r for r in record["results"] if r.get("method") == "mean-fill"]
    assert fill["within_bound"] and abs(fill["difference_db"]) <= device_check.QUICK_BOUNDS_DB["training-free"]
    # no checkout of the official code given: skipped, saying how one is found
    (official,) = [r for r in record["results"] if r["case"] == "official pennet"]
    assert official["status"] == "skipped" and official_pennet.ENVIRONMENT in official["summary"]


def test_bf16_and_channels_last_keep_every_trained_method_finite(smoke):
    _, record, _ = smoke
    measured = {(r["method"], r["mode"]): r for r in record["results"]
                if r["case"].startswith("speed") and "train_images_per_s" in r}
    assert set(measured) == {(m, mode) for m in device_check.trained_methods() for mode in device_check.MODES}
    assert all(r["finite"] and r["train_images_per_s"] > 0 and r["inference_images_per_s"] > 0
               for r in measured.values())
    largest = [r for r in record["results"] if "largest_batch" in r]
    assert [r["largest_batch"] for r in largest] == [device_check.SMOKE.max_batch] * len(device_check.trained_methods())


def test_channels_last_gives_float32_output_and_bf16_stays_near(smoke):
    _, record, _ = smoke
    parity = {(r["method"], r["mode"]): r for r in record["results"] if r["case"] == "parity"}
    assert set(parity) == {(m, mode) for m in device_check.trained_methods() for mode in ("bfloat16", "channels_last")}
    for (method, mode), row in parity.items():
        assert row["within_bound"] and row["relative_difference"] <= device_check.PARITY_BOUNDS[mode], row
        assert 0 < row["mean_abs_difference"] <= row["max_abs_difference"], row  # bf16 and channels_last ran
        if mode == "channels_last":
            assert row["max_abs_difference"] <= CPU_CHANNELS_LAST_TOLERANCE, row
            assert row["relative_difference"] <= CPU_CHANNELS_LAST_TOLERANCE, row


def _check(tmp_path) -> device_check.Check:
    args = argparse.Namespace(smoke=True, device="cpu", official_pennet=None, out=tmp_path / "out", work=None,
                              commit=None)
    return device_check.Check(args, device_check.SMOKE, device_check.torch.device("cpu"))


def test_a_failing_or_overlong_case_is_recorded_on_disk_and_the_check_goes_on(tmp_path):
    check = _check(tmp_path)
    check.run("first", 5, lambda _: check.add("first", "a figure", value=1))
    check.run("broken", 5, lambda _: 1 / 0)
    start = time.perf_counter()
    check.run("slow", 0.3, lambda _: time.sleep(5))
    assert time.perf_counter() - start < 3  # stopped at its cap
    check.run("last", 5, lambda _: check.add("last", "another figure", value=2))
    (record_file,) = (tmp_path / "out").glob("device_check-*.json")
    results = json.loads(record_file.read_text())["results"]  # written as it went: no final write
    assert [(r["case"], r["status"]) for r in results] == [
        ("first", "ok"), ("broken", "error"), ("slow", "error"), ("last", "ok")]
    assert results[1]["error"] == "ZeroDivisionError: division by zero"
    assert results[2]["error"] == "CaseTimeout: ran past its cap of 0.3 s"
    check.started -= device_check.BUDGET_S * check.settings.time_scale  # the budget spent: a later case is skipped
    check.run("late", 5, lambda _: pytest.fail("ran past the budget"))
    assert check.record.results[-1]["status"] == "skipped"


def test_the_official_pennet_case_times_a_checkout_named_by_the_environment(tmp_path, monkeypatch):
    (tmp_path / "pennet" / "model").mkdir(parents=True)
    (tmp_path / "pennet" / "model" / "pennet.py").write_text(FAKE_PENNET)
    monkeypatch.setenv(official_pennet.ENVIRONMENT, str(tmp_path / "pennet"))
    check = _check(tmp_path)
    check.run("official pennet", 30, lambda _: device_check.official(check))
    (row,) = check.record.results
    assert row["status"] == "ok" and row["official_images_per_s"] > 0 and row["ours_images_per_s"] > 0
    # the ratio is official step time over ours: > 1 when ours is faster
    assert row["ratio"] == pytest.approx(row["ours_images_per_s"] / row["official_images_per_s"])
    assert "model" not in sys.modules  # the checkout's packages are not left behind
    monkeypatch.setenv(official_pennet.ENVIRONMENT, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not a PEN-Net checkout"):
        official_pennet.checkout(None)


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return False


def test_a_command_past_its_cap_is_killed_with_its_children(tmp_path):
    """torchrun's workers are the launcher's children: a time-out must not leave them running."""
    child = tmp_path / "child.pid"
    script = ("import subprocess, sys, time; "
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(child)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    with pytest.raises(device_check.CaseTimeout, match="ran past its cap of 5 s"):
        device_check.run_command([sys.executable, "-c", script], tmp_path / "log.txt", 5)
    pid = int(child.read_text())
    deadline = time.monotonic() + 10
    while _running(pid):
        assert time.monotonic() < deadline, f"child {pid} still running"
        time.sleep(0.1)


def test_a_copy_without_git_history_records_the_commit_given(tmp_path, monkeypatch):
    monkeypatch.setattr(device_check.runs, "git_state", lambda: (None, None))  # as on a lent machine
    check = _check(tmp_path)
    device_check.environment(check)
    unknown = check.record.results[-1]
    assert unknown["commit"] is None and "unknown (pass --commit)" in unknown["summary"]
    check.args.commit = "0123456789abcdef"
    device_check.environment(check)
    row = check.record.results[-1]
    assert (row["commit"], row["commit_source"]) == ("0123456789abcdef", "--commit")
    assert "0123456789 from --commit" in row["summary"]


@pytest.mark.parametrize("gpus", [1, 2])
def test_the_full_check_fits_its_budget_with_one_or_two_gpus(tmp_path, monkeypatch, gpus):
    monkeypatch.setattr(device_check.torch.cuda, "device_count", lambda: gpus)
    check = _check(tmp_path)
    check.settings = device_check.FULL
    cases = device_check.plan(check)
    names = [case for case, _, _ in cases]
    assert names == ["environment", *(f"speed {m}" for m in device_check.trained_methods()), "parity",
                     *(f"torchrun {n}" for n in range(1, gpus + 1)), "quick profile", "official pennet"]
    assert sum(cap for _, cap, _ in cases) <= device_check.BUDGET_S <= 8 * 60
