"""The first hour's silent or unclear cases, each now one clear line: --nproc below 1, benchmark
names that are not scripts, a benchmark's help cut mid-sentence, a weights folder that does not
exist, our own run checkpoint given to `weights inspect`, a missing release given to `evaluate
--official`, and a file given where an output folder goes."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import cli, methods, runs, train
from tests import toy_method

BENCHMARKS = Path(cli.__file__).parent / "benchmarks"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("value, message", [("0", "0 is not at least 1"), ("-2", "-2 is not at least 1"),
                                            ("two", "'two' is not a whole number")])
def test_reproduce_refuses_nproc_below_one(tmp_path, value, message):
    result = subprocess.run(  # were it accepted, the quick profile would run: into tmp_path, never the checkout
        [sys.executable, "-m", "bench", "reproduce", "--nproc", value, "--runs-root", "runs", "--reports-root",
         "reports", "--only", "report"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.endswith(f"error: argument --nproc: {message}\n")


def test_benchmark_lists_the_scripts_only_and_each_help_is_its_whole_first_paragraph():
    scripts = sorted(p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_")
                     and any(getattr(n, "name", None) == "main" for n in ast.parse(p.read_text()).body))
    assert scripts and "record" not in scripts
    listed = _run("benchmark", "--help")
    assert "{" + ",".join(scripts) + "}" in listed.stdout
    assert _run("benchmark", "record").returncode == 2  # refused by argparse, not a crash
    for name in scripts:
        shown = _run("benchmark", name, "--help")
        assert shown.returncode == 0, shown.stderr
        module = ast.get_docstring(ast.parse((BENCHMARKS / f"{name}.py").read_text()))
        first = " ".join(module.split("\n\n")[0].split())
        assert first in " ".join(shown.stdout.split()), name


@pytest.mark.parametrize("make", ["missing", "file"])
def test_weights_check_on_a_folder_that_is_not_there_says_so(tmp_path, make):
    root = tmp_path / "weigths"
    if make == "file":
        root.write_text("")
    result = _run("weights", "check", "--weights-root", str(root))
    said = "not a folder" if make == "file" else "no such folder"
    assert result.returncode == 2 and result.stderr == (
        f"error: --weights-root {root}: {said} (it holds one sub-folder per release: ROOT/<release name>/)\n")
    assert "missing" not in result.stdout


def test_weights_inspect_names_a_run_checkpoint_as_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(methods.REGISTRY, "toy", toy_method.ENTRIES["toy"])
    run_dir = train.train(toy_method.tiny_config(), run_dir=tmp_path / "run", progress=False)
    checkpoint = runs.latest_checkpoint(runs.RunFolder(run_dir))
    assert cli.main(["weights", "inspect", str(checkpoint)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == ("format   a run checkpoint of toy, step 6 (written by `inpaint-bench train`; "
                                   "not released weights)")
    assert "image_size = 32" in out and "Weights only load failed" not in out + err


def test_evaluate_official_with_a_missing_release_names_the_path_and_the_download_page(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"method": {"name": "pennet"}, "data": {"dataset": "sample", "size": 64}}))
    base = ["evaluate", str(cfg), "--runs-root", str(tmp_path / "runs"), "--no-progress"]
    page = "https://github.com/researchmm/PEN-Net-for-Inpainting"
    assert cli.main([*base, "--official", "pennet-dtd"]) == 2  # a release name, no weights folder
    err = capsys.readouterr().err
    assert "needs the weights folder" in err and page in err
    assert cli.main([*base, "--official", "pennet-dtd", "--weights-root", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'w' / 'pennet-dtd' / 'gen_*.pth'}: released weights not found" in err and page in err
    assert cli.main([*base, "--official", str(tmp_path / "w" / "pennet-dtd" / "gen_1.pth")]) == 2
    err = capsys.readouterr().err
    assert f"no file or folder {tmp_path / 'w' / 'pennet-dtd' / 'gen_1.pth'}" in err and page in err
    assert cli.main([*base, "--official", "pennet-dtdd"]) == 2  # a typo: the releases it could be
    err = capsys.readouterr().err
    assert f"no file or folder {Path('pennet-dtdd').absolute()}" in err and "pennet-dtd, " in err
    assert err.count("\n") == 1 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [["masks", "make", "{out}", "--count", "1"], ["report", "run", "--out", "{out}"]])
@pytest.mark.parametrize("below", [False, True])
def test_an_output_folder_that_is_a_file_is_refused_in_one_line(tmp_path, command, below):
    target = tmp_path / "a-file"
    target.write_text("kept")
    out = target / "sub" if below else target
    result = _run(*[part.format(out=out) for part in command])
    assert result.returncode == 2 and "Errno" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith(f"{target} is a file, not a folder")
    assert target.read_text() == "kept"
