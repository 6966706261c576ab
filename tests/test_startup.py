"""Start-up: building the parser imports neither torch nor pandas, so `--help` and argument
errors answer fast; each command imports what it needs when it runs. Checked in fresh processes."""

import subprocess
import sys
import time

from bench import metrics
from bench.cli import COMMANDS

HEAVY = ("torch", "pandas", "pytorch_msssim", "models", "baselines")

# Parse (help or an argument error) in a fresh interpreter, then list the heavy modules it imported.
PROBE = """
import sys
from bench.cli import build_parser, parse_arguments
try:
    parse_arguments(build_parser(), sys.argv[1:])
except SystemExit:
    pass
print("loaded:", *sorted({m.split(".")[0] for m in sys.modules} & set(%r)))
""" % (HEAVY,)


def _loaded_after(*argv):
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1].split()[1:]


def test_help_of_every_command_imports_neither_torch_nor_pandas():
    for argv in (["--help"], *([name, "--help"] for name in COMMANDS)):
        assert _loaded_after(*argv) == [], argv


def test_argument_errors_import_neither_torch_nor_pandas():
    assert _loaded_after("train") == []  # the config is missing
    assert _loaded_after("reproduce", "--nproc", "two") == []
    assert _loaded_after("nonsense") == []


def test_help_answers_in_well_under_the_time_torch_takes_to_import():
    """A generous bound that holds on a loaded machine: both are timed in the same test, fresh
    processes each, best of three (before the fix `--help` imported torch and pandas, so it took
    longer than torch alone)."""
    def best(argv):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, *argv], capture_output=True, check=True, timeout=120)
            times.append(time.perf_counter() - start)
        return min(times)

    helped = best(["-m", "bench", "train", "--help"])
    torch_alone = best(["-c", "import torch"])
    assert helped < 0.6 * torch_alone, (helped, torch_alone)


def test_the_l1_help_names_every_variant_and_a_wrong_one_is_one_line(tmp_path):
    shown = subprocess.run([sys.executable, "-m", "bench", "tables", "--help"], capture_output=True, text=True)
    assert all(variant in " ".join(shown.stdout.split()) for variant in metrics.L1_VARIANTS)
    wrong = subprocess.run([sys.executable, "-m", "bench", "tables", str(tmp_path), "--out", str(tmp_path / "t"),
                            "--l1", "l2"], capture_output=True, text=True)
    assert wrong.returncode == 2 and wrong.stderr == (
        f"error: unknown L1 variant 'l2'; choose one of {', '.join(metrics.L1_VARIANTS)}\n")
    assert not (tmp_path / "t").exists()
