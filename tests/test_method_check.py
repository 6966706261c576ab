"""`inpaint-bench methods check NAME` (bench/method_check.py): every trained built-in passes
(the slow ones under SLOW), a method that breaks the contract fails conformance naming itself,
one that does not learn fails the fit, a training-free one stops after conformance, and the
README's plugin is checked as an installed distribution through the command line."""

from __future__ import annotations

import re
import time

import pytest
import torch

from bench import cli, method_check, methods
from tests.slow import SLOW
from tests.test_plugins import bench, plugin_site  # noqa: F401 — plugin_site is a fixture
from tests.toy_method import DEFAULTS, ToyMethod

CHEAPEST = "glcic"  # the trained built-in the default suite checks (measured: docs/methods.md)
TRAINED = [name for name, entry in methods.BUILTINS.items() if not entry.training_free]


class Broken(ToyMethod):
    """The toy method with one fault (`fault`), for the conformance and fit failures."""

    fault = ""

    def train_step(self, images, masks, step):
        if self.fault == "no-update":  # trains nothing: the generator keeps its initial weights
            return {"l1": 0.0}
        return super().train_step(images, masks, step)

    def inpaint(self, images, masks):
        out = super().inpaint(images, masks)
        if self.fault == "nan":
            return out * float("nan")
        if self.fault == "shape":
            return out[:, :, :-1]
        if self.fault == "range":
            return out * 2
        if self.fault == "unseeded":
            return out * (1 - 0.1 * torch.rand(1, generator=torch.Generator().manual_seed(time.perf_counter_ns())))
        return out

    def departures(self):
        return "one string, not a list" if self.fault == "departures" else super().departures()


def build_broken(spec):
    method = Broken(DEFAULTS)
    method.fault = spec.options["fault"]
    return method


@pytest.fixture
def broken(monkeypatch):
    """Register `broken-<fault>` for each fault."""
    for fault in ("no-update", "nan", "shape", "range", "unseeded", "departures"):
        monkeypatch.setitem(methods.REGISTRY, f"broken-{fault}", methods.Entry(
            "tests.test_method_check:build_broken", "a faulty toy", "#000000", {"fault": fault}))


@pytest.mark.parametrize("fault, message", [
    ("nan", "method 'broken-nan': inpaint returned NaN or inf"),
    ("shape", "method 'broken-shape': inpaint returned (4, 3, 63, 64) for input (4, 3, 64, 64)"),
    ("range", "method 'broken-range': inpaint returned values in ["),
    ("unseeded", "method 'broken-unseeded': inpaint differs between two builds from seed 0"),
    ("departures", "method 'broken-departures': departures() returned 'one string, not a list'"),
])
def test_a_method_breaking_the_contract_fails_conformance_naming_it(broken, fault, message):
    with pytest.raises(method_check.CheckFailed, match="^" + re.escape(message)):
        list(method_check.check(f"broken-{fault}", steps=2))


def test_a_method_that_does_not_update_its_generator_fails_the_fit(broken, capsys):
    assert cli.main(["methods", "check", "broken-no-update", "--steps", "8"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("broken-no-update: conformance ok")
    assert lines[2].split() == ["step", "PSNR", "dB", "mean-fill", "telea", "seconds"]
    assert [int(line.split()[0]) for line in lines[3:-1]] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert len({line.split()[1] for line in lines[3:-1]}) == 1  # the same score at every step
    assert lines[-1].startswith("FAIL: method 'broken-no-update' ends at ") and "did not learn the batch" in out


def test_a_training_free_method_passes_conformance_and_stops():
    lines = list(method_check.check("mean-fill"))
    assert lines[0].startswith("mean-fill: conformance ok")
    assert lines[1:] == ["PASS: mean-fill is training-free; conformance is its whole check"]


@pytest.mark.parametrize("argv, message", [
    (["methods", "check", "nosuch"], "error: unknown method 'nosuch'; known: "),
    (["methods", "check"], "error: methods check takes one method name, got 0\n"),
    (["methods", "check", "glcic", "--steps", "0"], "error: --steps 0: need at least 1\n"),
    (["methods", "srpnet", "--steps", "3"], "error: --steps and --seed belong to `methods check NAME`\n"),
])
def test_a_bad_check_command_is_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1 and not captured.out


def check_passes(name: str, capsys) -> list[str]:
    """`methods check NAME` through the command line, at the method's own budget: it passes."""
    code = cli.main(["methods", "check", name])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0, "\n".join(lines)
    assert lines[-1].startswith(f"PASS: {name} ends at ")
    print("\n".join(lines))  # the table, for `pytest -rP`
    return lines


def test_the_cheapest_trained_builtin_passes_from_the_command_line(capsys):
    lines = check_passes(CHEAPEST, capsys)
    first, last = float(lines[3].split()[1]), float(lines[-2].split()[1])
    assert last > first + method_check.FIT_MARGIN_DB  # it learnt: its untrained score is lower


@SLOW
@pytest.mark.parametrize("name", [n for n in TRAINED if n != CHEAPEST])
def test_every_trained_builtin_passes(name, capsys):
    check_passes(name, capsys)


def test_the_readme_plugin_is_checked_from_the_command_line(plugin_site, tmp_path):  # noqa: F811 — the fixture
    site, name = plugin_site
    done = bench(site, "methods", "check", name, cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{name}: conformance ok"), done.stderr
    assert [int(line.split()[0]) for line in lines[3:-1]] == [0, 25, 50, 75, 100, 125, 150, 175, 200]
    assert done.returncode == 0 and lines[-1].startswith(f"PASS: {name} ends at "), done.stdout
