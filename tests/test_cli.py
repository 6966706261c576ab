"""The command line: --help everywhere, one-line errors, tracebacks only with --debug."""

import subprocess
import sys

import pytest

from bench.cli import COMMANDS, main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True)


def test_every_command_has_help():
    assert _run("--help").returncode == 0
    for name in COMMANDS:
        result = _run(name, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, name


def test_error_is_one_line_without_traceback(tmp_path):
    result = _run("data", "check", "dtd", "--data-root", str(tmp_path / "missing"), "--cache-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "missing" in result.stderr and "dtd/images" in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = _run("--debug", "data", "check", "dtd", "--data-root", str(tmp_path / "missing"),
                  "--cache-dir", str(tmp_path))
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_masks_make_and_data_check_sample(tmp_path, capsys):
    assert main(["masks", "make", str(tmp_path / "m"), "--size", "64", "--count", "2"]) == 0
    assert (tmp_path / "m" / "manifest.csv").is_file()
    assert main(["data", "check", "sample"]) == 0
    assert "sample     test  found        24" in capsys.readouterr().out


def test_unknown_command_is_refused():
    with pytest.raises(SystemExit):
        main(["fly"])


def test_overrides_may_follow_the_options(capsys):
    from bench.cli import build_parser, parse_arguments

    args = parse_arguments(build_parser(), ["reproduce", "quick", "data.size=64", "--nproc", "2",
                                            "train.iterations=12", "--only", "train"])
    assert args.overrides == ["data.size=64", "train.iterations=12"]
    assert args.nproc == 2 and args.only == "train"
    for stray in (["reproduce", "--nproc", "2", "--bogus"], ["masks", "make", "out", "a=1"]):
        with pytest.raises(SystemExit):
            parse_arguments(build_parser(), stray)
        assert "unrecognized arguments" in capsys.readouterr().err


def test_the_dataset_help_names_every_registered_dataset():
    """`--help` lists the datasets without importing the registry (it imports torch): the line
    must stay the registry's names."""
    from bench import cli
    from bench.data.datasets import NAMES

    assert cli.DATASET_HELP == f"{', '.join(NAMES[:-1])} or {NAMES[-1]}"
