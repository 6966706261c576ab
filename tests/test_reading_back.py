"""Reading back is as safe as writing (issue 19): a checkpoint of another run is refused and
rows identify their checkpoint by sha256; a torn last line is never data; tables and report
refuse an incomplete or running evaluation (or mark it with --partial); every damaged record
file is named in one line with nothing written; a headerless losses.csv stops a resume; run
ids cannot escape; `status` reports every run; SIGTERM is handled as Ctrl-C and orphan
checksums are cleaned; evaluate's messages carry its own prefix.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import cli, evaluate, lock, runs, tables, train
from bench.data.masks import BUCKET_LABELS
from bench.records import reading
from bench.records import rows as rows_record
from tests import toy_method
from tests.test_train import start, subprocess_env, write_config


pytestmark = pytest.mark.usefixtures("toy_registered")  # tests/conftest.py


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny toy run, trained and evaluated once (copy it before changing it)."""
    with toy_method.registered():
        run = toy_method.train_tiny(tmp_path_factory.mktemp("trained"), "r", *SMALL)
        evaluate.evaluate(run, progress=False)
    return run


SMALL = ("data.size=48", "eval.masks=[center, irregular_0]")  # MS-SSIM needs 33 px or more


def copy_run(source, target):
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock"))
    return target


def snapshot(folder):
    """Every file under `folder` (the lock file aside) with its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != lock.LOCK_NAME}


def cli_line(capsys, *argv):
    """(exit status, stderr) of the command line run in this process."""
    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


# --- 1. a checkpoint is the run's own, and rows name it by its sha256 ---------------------------
def test_a_checkpoint_of_another_run_is_refused_and_rows_identify_the_file(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path / "run")
    cache = f"data.cache_dir={trained.parent / 'cache'}"
    other = train.train(toy_method.tiny_config(*SMALL, cache, "method.options.width=4", "run.id=other"),
                        run_dir=tmp_path / "other", progress=False)
    foreign = runs.latest_checkpoint(runs.RunFolder(other))
    before = snapshot(run)
    code, err = cli_line(capsys, "evaluate", run, "--checkpoint", foreign, "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert f"{foreign}: not a checkpoint of this run" in err and "method options {'width': 4}" in err
    assert "(the run's: {})" in err and snapshot(run) == before

    # the same method and options but another seed: scored only as foreign, never mistaken for the run's own
    twin = train.train(toy_method.tiny_config(*SMALL, cache, "train.seed=5", "run.id=twin"),
                       run_dir=tmp_path / "twin", progress=False)
    copied = tmp_path / "elsewhere" / "step_0000006.pt"  # the run's own checkpoint's name
    copied.parent.mkdir()
    shutil.copy(runs.latest_checkpoint(runs.RunFolder(twin)), copied)
    shutil.copy(runs.checksum_path(runs.latest_checkpoint(runs.RunFolder(twin))), runs.checksum_path(copied))
    own = runs.latest_checkpoint(runs.RunFolder(run))
    evaluate.evaluate(run, checkpoint=copied, progress=False, foreign=True)
    evaluate.evaluate(run, progress=False)  # its own checkpoint again: the twin's rows are not its
    found = rows_record.read(runs.RunFolder(run).rows_file)
    by_sha = {sha: sum(r["checkpoint_sha256"] == sha for r in found)
              for sha in {r["checkpoint_sha256"] for r in found}}
    scored = len(rows_record.read(runs.RunFolder(trained).rows_file))
    assert by_sha == {runs.file_sha256(own): scored, runs.file_sha256(copied): scored}
    assert {r["checkpoint"] for r in found} == {"step_0000006.pt"}
    table_rows = tables.load_rows([run])  # the run's own file, not the twin of the same name
    assert set(table_rows["checkpoint_sha256"]) == {runs.file_sha256(own)}


def test_a_rows_file_without_checkpoint_identities_is_refused_saying_to_evaluate_again(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path / "run")
    rows_file = runs.RunFolder(run).rows_file
    old = pd.read_csv(rows_file, dtype=str).drop(columns=["checkpoint_sha256"])
    old.to_csv(rows_file, index=False)
    code, err = cli_line(capsys, "tables", run, "--out", tmp_path / "t")
    assert code == 2 and err.count("\n") == 1
    assert "rows.csv: line 1: missing column(s) checkpoint_sha256" in err and "evaluate" in err
    assert not (tmp_path / "t").exists()
    code, err = cli_line(capsys, "evaluate", run, "--no-progress")  # nor appended to
    assert code == 2 and "missing column(s) checkpoint_sha256" in err


# --- 2. a torn last line is never data ---------------------------------------------------------
def test_a_torn_last_row_and_loss_are_ignored_by_every_reader(tmp_path, run_factory):
    run = run_factory(tmp_path, "r", "srpnet", "facade", center_only=True, images=12)
    rows_file = runs.RunFolder(run).rows_file
    whole = rows_file.read_bytes()
    without_last = whole[: whole.rstrip(b"\n").rfind(b"\n") + 1]
    rows_file.write_bytes(without_last)
    expected = tables.load_rows([run])
    torn = whole[: len(without_last) + int(0.8 * (len(whole) - len(without_last)))]
    assert not torn.endswith(b"\n")
    rows_file.write_bytes(torn)
    found = tables.load_rows([run])
    assert len(found) == len(expected) == 11
    pd.testing.assert_frame_equal(found, expected)

    losses = runs.RunFolder(run).losses_file
    losses.write_bytes(losses.read_bytes() + b"40,gen_l1,0.12")  # cut inside its line
    assert [r["step"] for r in runs.read_losses(losses)][-1] == 39.0


# --- 3. no table of an evaluation that is incomplete or under way ------------------------------
def test_tables_and_report_refuse_an_incomplete_or_running_evaluation(tmp_path, run_factory, capsys):
    run = run_factory(tmp_path, "r", "srpnet", "facade", images=6)
    folder = runs.RunFolder(run)
    with lock.hold(run):  # a live evaluator
        code, err = cli_line(capsys, "tables", run, "--out", tmp_path / "t")
        assert code == 2 and err.count("\n") == 1 and f"pid {os.getpid()}" in err and "--partial" in err
        assert runs.run_status(folder)[0] == "evaluating"
    assert not (tmp_path / "t").exists()

    found = rows_record.read(folder.rows_file)
    folder.rows_file.unlink()  # as if killed in irregular_4 (two images in), before irregular_5
    cut = [r for r in found if r["bucket"] != BUCKET_LABELS[5]
           and (r["bucket"] != BUCKET_LABELS[4] or r["image_id"] in {"facade-0000", "facade-0001"})]
    rows_record.Writer(folder.rows_file).write(cut)
    code, err = cli_line(capsys, "report", run, "--out", tmp_path / "rep")
    assert code == 2 and err.count("\n") == 1
    assert "cover 5 of the 7 planned mask settings (missing irregular_5; irregular_4 2 of 6 images)" in err
    assert not (tmp_path / "rep").exists()

    code, err = cli_line(capsys, "report", run, "--out", tmp_path / "rep", "--partial")
    assert code == 0
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert any(b.startswith("partial results") and "irregular_5" in b for b in results["banners"])
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "partial results" in html
    statuses = [row["status"] for table in results["tables"].values() for row in table["rows"]
                if row.get("run_id") == "r" and "status" in row]
    assert statuses and set(statuses) == {"partial"}
    code, err = cli_line(capsys, "tables", run, "--out", tmp_path / "t", "--partial")
    assert code == 0 and "partial: " in err
    written = [pd.read_csv(p, dtype=str) for p in (tmp_path / "t").glob("*.csv")]
    statuses = [s for frame in written if {"run_id", "status"} <= set(frame) for s in frame.loc[frame["run_id"] == "r", "status"]]
    assert statuses and set(statuses) == {"partial"}


def test_tables_and_report_refuse_a_run_without_rows_or_a_folder_that_is_no_run(tmp_path, run_factory, capsys):
    run = run_factory(tmp_path, "r", "srpnet", "facade", center_only=True)
    runs.RunFolder(run).rows_file.unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (["tables", "--out", tmp_path / "t"], ["report", "--out", tmp_path / "rep"]):
        code, err = cli_line(capsys, command[0], run, *command[1:])
        assert code == 2 and err.count("\n") == 1 and "not evaluated (no " in err
        code, err = cli_line(capsys, command[0], empty, *command[1:])
        assert code == 2 and err.count("\n") == 1 and "empty: not a run folder (no config.yaml)" in err
    assert not (tmp_path / "t").exists() and not (tmp_path / "rep").exists()
    code, _ = cli_line(capsys, "report", run, "--out", tmp_path / "rep", "--partial")
    banners = json.loads((tmp_path / "rep" / "results.json").read_text())["banners"]
    assert code == 0 and any("not evaluated" in b for b in banners)


# --- 4. every damaged record file is named, nothing is written ----------------------------------
def damaged(path, variant):
    """Write variant `variant` of the record file at `path`."""
    data = path.read_bytes()
    if variant == "truncated" and path.suffix == ".yaml":  # cut inside a key, half-way
        half = len(data) // 2
        path.write_bytes(data[: half + re.search(rb"\n  [a-z]", data[half:]).end() + 1])
    elif variant == "truncated":
        path.write_bytes(data[: max(5, len(data) // 2)] if path.suffix != ".csv" else data[:5])
    elif variant == "empty":
        path.write_bytes(b"")
    elif variant == "random bytes":
        path.write_bytes(bytes([0x8F, 0xFF, 0x00, 0xC3]) * 64)
    elif variant == "wrong type" and path.suffix == ".csv":  # a number column holds text
        lines = data.decode().splitlines(keepends=True)
        fields = lines[1].split(",")
        fields[2 if path.name == "losses.csv" else rows_record.COLUMNS.index("psnr")] = "abc"
        path.write_text("".join([lines[0], ",".join(fields), *lines[2:]]))
    elif variant == "wrong type":
        path.write_bytes({".json": b"[]\n", ".yaml": b"- 1\n- 2\n", ".sha256": b"hello  step\n"}[path.suffix])
    elif variant == "missing key":
        if path.suffix == ".json":
            record = json.loads(data)
            key = {"manifest.json": "run_id", "method.json": "mean_pixel", "split.json": "sha256",
                   "results.json": "tables"}[path.name]
            del record[key]
            path.write_text(json.dumps(record))
        elif path.suffix == ".csv":
            lines = data.decode().splitlines(keepends=True)
            path.write_text("".join(",".join(line.split(",")[:-1]) + "\n" for line in lines))
        elif path.suffix == ".yaml":
            path.write_text(data.decode().replace("method:", "methd:", 1))
        else:
            path.write_bytes(b"\n")


VARIANTS = ("truncated", "empty", "random bytes", "wrong type", "missing key")
RUN_FILES = ("manifest.json", "method.json", "config.yaml", "losses.csv", "eval/rows.csv")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", RUN_FILES)
def test_a_damaged_run_record_is_named_in_one_line_and_nothing_is_written(
        tmp_path, run_factory, capsys, name, variant):
    run = run_factory(tmp_path, "r", "srpnet", "facade", center_only=True)
    damaged(run / name, variant)
    before = snapshot(tmp_path)
    commands = [["report", run, "--out", tmp_path / "rep"]]
    if name not in ("method.json", "losses.csv"):  # tables read only the config, manifest and rows
        commands.append(["tables", run, "--out", tmp_path / "t"])
    if name == "losses.csv" and variant in ("truncated", "empty"):  # what a killed writer leaves
        assert cli_line(capsys, *commands[0])[0] == 0  # read as no complete row: no loss curve
        assert json.loads((tmp_path / "rep" / "results.json").read_text())["runs"][0]["last_step"] is None
        return
    for argv in commands:
        code, err = cli_line(capsys, *argv)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"error: {run / name}: ") and "codec" not in err, err
    assert snapshot(tmp_path) == before


def facade_run(root):
    """A tiny toy run on a made-up facade folder (real datasets keep split lists: split.json)."""
    data = root / "facade" / "base"
    data.mkdir(parents=True)
    for i in range(20):
        pixels = np.random.default_rng(i).integers(0, 255, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(data / f"cmp_b{i:04d}.jpg")
    cfg = toy_method.tiny_config(*SMALL, "data.dataset=facade", f"data.root={data.parent}",
                                 f"data.cache_dir={root / 'cache'}", "train.iterations=2", "eval.count=null")
    return train.train(cfg, run_dir=root / "r", progress=False)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", ("split.json", "checkpoint sha256"))
def test_a_damaged_split_record_or_checksum_is_named_when_evaluating(tmp_path, capsys, name, variant):
    run = facade_run(tmp_path)
    folder = runs.RunFolder(run)
    target = (next((tmp_path / "cache").rglob("split.json")) if name == "split.json"
              else runs.checksum_path(runs.latest_checkpoint(folder)))
    damaged(target, variant)
    before = snapshot(tmp_path)
    code, err = cli_line(capsys, "evaluate", run, "--no-progress")
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {target}: ") and "codec" not in err, err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_damaged_results_json_is_named_and_no_page_is_written(tmp_path, run_factory, capsys, variant):
    run = run_factory(tmp_path, "r", "srpnet", "facade", center_only=True)
    assert cli_line(capsys, "report", run, "--out", tmp_path / "rep")[0] == 0
    (tmp_path / "rep" / "report.html").unlink()
    target = tmp_path / "rep" / "results.json"
    damaged(target, variant)
    code, err = cli_line(capsys, "report", "--from", tmp_path / "rep")
    assert code == 2 and err.count("\n") == 1 and str(target) in err, err
    assert "unexpected keyword" not in err and not (tmp_path / "rep" / "report.html").exists()


def test_a_results_run_of_another_shape_is_named(tmp_path, run_factory, capsys):
    run = run_factory(tmp_path, "r", "srpnet", "facade", center_only=True)
    cli_line(capsys, "report", run, "--out", tmp_path / "rep")
    target = tmp_path / "rep" / "results.json"
    data = json.loads(target.read_text())
    data["runs"][0]["colour"] = "red"
    target.write_text(json.dumps(data))
    code, err = cli_line(capsys, "report", "--from", tmp_path / "rep")
    assert code == 2 and f"{target}: " in err and "colour" in err and "write the report folder again" in err


def test_a_manifest_split_of_the_wrong_shape_is_named(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path / "run")
    manifest = runs.RunFolder(run).manifest_file
    data = json.loads(manifest.read_text())
    data["split"] = {}
    manifest.write_text(json.dumps(data))
    code, err = cli_line(capsys, "evaluate", run, "--no-progress")
    assert code == 2 and f"{manifest}: split.train: expected {{count: int, sha256: str}}" in err


# --- 5. a resume checks losses.csv's header ------------------------------------------------------
def test_a_resume_with_a_headerless_losses_file_is_refused_naming_it(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path / "run")
    folder = runs.RunFolder(run)
    runs.fail_run(folder, "stopped")
    losses = folder.losses_file
    losses.write_text("".join(losses.read_text().splitlines(keepends=True)[1:]))
    cfg = tmp_path / "run.yaml"
    cfg.write_text(folder.config_file.read_text())
    code, err = cli_line(capsys, "train", cfg, "--run-dir", run, "--no-progress")
    assert code == 2 and f"{losses}: line 1: missing column(s) step, name, value" in err


# --- 6. names that cannot escape ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["../escape", "/tmp/anywhere", ".", "a/b", "..", "x:y", "a b"])
def test_an_unsafe_run_id_is_refused_before_anything_is_created(tmp_path, capsys, name):
    cfg = write_config(tmp_path / "run.yaml")
    root = tmp_path / "runs"
    code, err = cli_line(capsys, "train", cfg, "--run-id", name, "--runs-root", root, "--no-progress")
    assert code == 2 and err.count("\n") == 1 and f"run.id: {name!r} is not a usable name" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]


def test_a_manifest_or_report_run_id_that_could_escape_is_refused(tmp_path, run_factory, capsys):
    run = run_factory(tmp_path, "r", "srpnet", "facade", center_only=True)
    folder = runs.RunFolder(run)
    data = json.loads(folder.manifest_file.read_text())
    data["run_id"] = "../../outside"
    folder.manifest_file.write_text(json.dumps(data))
    code, err = cli_line(capsys, "report", run, "--out", tmp_path / "rep")
    assert code == 2 and "run_id: '../../outside' is not a usable name" in err
    assert not (tmp_path / "rep").exists() and not (tmp_path.parent / "outside.csv").exists()


# --- 7. status reports every run ---------------------------------------------------------------
def test_status_reports_every_run_and_fails_if_any_is_unreadable(trained, tmp_path, capsys):
    good = copy_run(trained, tmp_path / "good")
    bad = copy_run(trained, tmp_path / "bad")
    (bad / "manifest.json").write_bytes(b"\xff{")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / lock.LOCK_NAME).write_text("")
    capsys.readouterr()
    code = cli.main(["status", str(bad), str(good), str(locked)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1 and len(out) == 3
    assert out[0].startswith(f"{bad}: unreadable — {bad / 'manifest.json'}: not UTF-8 text")
    assert out[1] == f"{good}: finished"
    assert out[2].startswith(f"{locked}: never started")


# --- 8. SIGTERM as Ctrl-C, orphan checksums cleaned ----------------------------------------------
def test_orphan_checksums_are_removed_on_the_next_start_saying_so(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path / "run")
    folder = runs.RunFolder(run)
    orphan = folder.checkpoints / "step_0000002.pt.sha256"  # its checkpoint was cleaned up
    shutil.copy(runs.checksum_path(runs.latest_checkpoint(folder)), orphan)
    runs.fail_run(folder, "terminated")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(folder.config_file.read_text())
    code, err = cli_line(capsys, "train", cfg, "--run-dir", run, "--no-progress")
    assert code == 0 and "removed 1 checksum file(s) left without their checkpoint" in err
    assert "step_0000002.pt.sha256" in err and not orphan.exists()


def test_sigterm_marks_the_run_failed_terminated_and_a_rerun_resumes(tmp_path):
    cfg = write_config(tmp_path / "run.yaml", "method.options.sleep=0.05", "train.iterations=40",
                       "train.checkpoint_every=2")
    process = start(["-m", "tests.toy_method", "train", cfg, "--no-progress", "--run-dir", "r"], tmp_path)
    folder = runs.RunFolder(tmp_path / "r")
    deadline = 120
    while not runs.list_checkpoints(folder) and deadline > 0:
        assert process.poll() is None, process.stdout.read()
        deadline -= 0.05
        subprocess.run(["sleep", "0.05"])
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, output
    assert output.strip().splitlines()[-1].startswith("terminated")
    manifest = folder.read_manifest()
    assert manifest.status == "failed" and manifest.error.startswith("terminated"), manifest.error
    assert runs.run_status(folder)[0] == "failed"
    assert not list(folder.checkpoints.glob(".*.tmp"))
    for path in runs.list_checkpoints(folder):
        runs.load_checkpoint(path)  # kept whole
    rerun = subprocess.run([sys.executable, "-m", "tests.toy_method", "train", str(cfg), "--no-progress",
                            "--run-dir", "r"], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0 and "resuming from" in rerun.stderr, rerun.stderr
    assert folder.read_manifest().status == "finished"


# --- 9. evaluate speaks as evaluate -------------------------------------------------------------
def test_evaluate_messages_carry_its_own_prefix(trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path / "run")
    (run / lock.LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": "gone", "since": "then"}))
    code, err = cli_line(capsys, "evaluate", run, "--no-progress")
    assert code == 0 and "[evaluate] " in err and "took over a stale lock" in err and "[train]" not in err


def test_the_one_reader_names_decode_parse_key_and_type_errors(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": \xff}')
    with pytest.raises(reading.RecordError, match=r"x.json: not UTF-8 text .* offset 6\); do this$"):
        reading.json_object(path, "do this")
    path.write_text('{"a": ')
    with pytest.raises(reading.RecordError, match=r"x.json: not valid JSON \(line 1 column 7"):
        reading.json_object(path, "do this")
    with pytest.raises(reading.RecordError, match=r"x.json: no key 'b'; do this"):
        with reading.reading(path, "do this"):
            {}["b"]
