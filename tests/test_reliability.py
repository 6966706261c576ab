"""Runs that cannot be corrupted: the run lock (two real processes), checkpoint checksums (a
flipped byte), splits bound to their run (a second working directory, a grown data folder),
verified mask sets (an inverted mask, a cut manifest), errors that name their file (a real full
disk on a tmpfs, Ctrl-C inside a checkpoint write, random bytes, a text file), PIC-Net's
non-finite step, honest status, exponent numbers in YAML, and a failed set-up not blocking its id.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import cli, config, evaluate, lock, runs, train
from bench.data import datasets, masks
from bench.records import rows as rows_record
from tests import toy_method
from tests.test_train import finish, start, subprocess_env, train_in_process, write_config


pytestmark = pytest.mark.usefixtures("toy_registered")  # tests/conftest.py


def toy_cli(*args):
    return ["-m", "tests.toy_method", *map(str, args)]


def weights(run_dir):
    return runs.load_checkpoint(runs.latest_checkpoint(runs.RunFolder(run_dir)))["method"]["networks"]["g"]


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def wait_for(predicate, process, seconds=60):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.01)


# --- the lock --------------------------------------------------------------------------------------
def test_a_second_process_is_refused_naming_the_holder_and_a_dead_holder_is_taken_over(tmp_path):
    cfg = write_config(tmp_path / "run.yaml", "method.options.sleep=0.05", "train.iterations=40",
                       "train.checkpoint_every=2", "train.num_workers=1")
    first = start(toy_cli("train", cfg, "--no-progress", "--run-dir", "r"), tmp_path)
    run = runs.RunFolder(tmp_path / "r")
    wait_for(lambda: runs.list_checkpoints(run), first)
    first.send_signal(signal.SIGSTOP)  # alive and holding the lock for as long as the test needs
    second = subprocess.run([sys.executable, *toy_cli("train", cfg, "--no-progress", "--run-dir", "r")],
                            cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [second.stderr.strip()]  # one line
    assert f"r: in use by pid {first.pid} on " in second.stderr
    evaluation = subprocess.run([sys.executable, *toy_cli("evaluate", "r", "--no-progress")], cwd=tmp_path,
                                env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert evaluation.returncode == 2 and f"in use by pid {first.pid}" in evaluation.stderr
    assert runs.run_status(run)[0] == "running" and str(first.pid) in runs.run_status(run)[1]

    first.send_signal(signal.SIGKILL)
    first.wait()
    assert run.read_manifest().status == "running"  # what the dead process left on disk
    status, why = runs.run_status(run)
    assert status == "failed" and "stopped without recording why" in why
    rerun = start(toy_cli("train", cfg, "--no-progress", "--run-dir", "r"), tmp_path)
    output = finish(rerun)
    assert f"took over a stale lock of pid {first.pid}" in output and "no longer running" in output
    assert runs.run_status(run) == ("finished", None)
    logged = [tuple(line.split(",")[:2]) for line in run.losses_file.read_text().splitlines()[1:]]
    assert len(logged) == len(set(logged)) == 20 * 2  # 40 steps logged every 2nd, two losses, once each
    assert json.loads(lock.lock_file(run.path).read_text() or "null") is None  # released: emptied


def test_lock_in_process_holder_and_release(tmp_path):
    notes = []
    with lock.hold(tmp_path, notes.append):
        holder = lock.holder(tmp_path)
        assert holder["pid"] == os.getpid()
        with pytest.raises(lock.LockError, match=f"in use by pid {os.getpid()}"):
            with lock.hold(tmp_path):
                pass
    assert lock.holder(tmp_path) is None and notes == []
    lock.lock_file(tmp_path).write_text(json.dumps({"pid": 999999, "host": "gone", "since": "then"}))
    with lock.hold(tmp_path, notes.append):
        pass
    assert notes == [f"{lock.lock_file(tmp_path)}: took over a stale lock of pid 999999 on gone "
                     "(since then), which is no longer running"]


# --- checksums -------------------------------------------------------------------------------------
def flip_byte(path, fraction=0.6):
    data = bytearray(path.read_bytes())
    data[int(len(data) * fraction)] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_set_aside_and_resume_falls_back_to_the_newest_good(tmp_path, capsys):
    cfg = toy_method.tiny_config("train.keep_last=3", "method.options.noise=0.05")
    train.train(cfg, run_dir=tmp_path / "whole", progress=False)
    shutil.copytree(tmp_path / "whole", tmp_path / "hurt")
    hurt = runs.RunFolder(tmp_path / "hurt")
    for name in ("step_0000006.pt", "step_0000006.pt.sha256"):  # as if it crashed after step 4
        (hurt.checkpoints / name).unlink()
    runs.fail_run(hurt, "crashed")
    bad = hurt.checkpoints / "step_0000004.pt"
    flip_byte(bad)
    with pytest.raises(runs.CheckpointError, match=r"step_0000004.pt: checksum .* differs .* corrupt"):
        runs.load_checkpoint(bad)
    capsys.readouterr()
    train.train(cfg, run_dir=hurt.path, progress=False)
    err = capsys.readouterr().err
    assert "step_0000004.pt: checksum" in err and "set aside as step_0000004.pt.corrupt" in err
    assert "resuming from" in err and "step_0000002.pt (step 2)" in err
    assert (hurt.checkpoints / "step_0000004.pt.corrupt").is_file()
    assert_same_weights(tmp_path / "whole", hurt.path)  # nothing of the corrupt file got in


def test_evaluating_a_corrupt_checkpoint_names_it(tmp_path):
    out = train.train(toy_method.tiny_config(), run_dir=tmp_path / "r", progress=False)
    flip_byte(runs.latest_checkpoint(runs.RunFolder(out)))
    with pytest.raises(runs.CheckpointError, match=r"step_0000006.pt: checksum .* differs"):
        evaluate.evaluate(out, progress=False)


@pytest.mark.parametrize("content", [os.urandom(4096), b"just some notes\nnot weights\n"],
                         ids=["random-bytes", "text"])
def test_unreadable_checkpoints_name_the_file_and_what_was_expected(tmp_path, content, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(runs.CheckpointError) as caught:
        runs.load_checkpoint(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: not a readable checkpoint (")
    assert message.endswith("expected a run checkpoint written by `inpaint-bench train` "
                            "(torch.save's zip format)") and "\n" not in message
    torch.save({"netG": {}}, tmp_path / "official.pt")
    with pytest.raises(runs.CheckpointError, match=r"official.pt: not a run checkpoint \(no step"):
        runs.load_checkpoint(tmp_path / "official.pt")
    # the user's view: `inpaint` with a text/random checkpoint
    image = tmp_path / "i.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    assert cli.main(["inpaint", "--method", "toy", "--checkpoint", str(bad), "--image", str(image),
                     "--mask", str(image), "--out", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not a readable checkpoint (")


def test_a_corrupt_newest_checkpoint_of_every_kind_falls_back(tmp_path, capsys):
    run = runs.RunFolder(tmp_path / "r")
    train.train(toy_method.tiny_config("train.iterations=4"), run_dir=run.path, progress=False)
    runs.fail_run(run, "crashed")
    (run.checkpoints / "step_0000004.pt").write_bytes(b"not a checkpoint")
    (run.checkpoints / "step_0000004.pt.sha256").unlink()  # no checksum either: it is still read
    capsys.readouterr()
    train.train(toy_method.tiny_config("train.iterations=4"), run_dir=run.path, progress=False)
    err = capsys.readouterr().err
    assert "step_0000004.pt: not a readable checkpoint" in err and "set aside" in err
    assert "step_0000002.pt (step 2)" in err and runs.run_status(run) == ("finished", None)


# --- splits ----------------------------------------------------------------------------------------
def make_facade(root, count, start_at=0):
    (root / "base").mkdir(parents=True, exist_ok=True)
    for i in range(start_at, start_at + count):
        pixels = np.random.default_rng(i).integers(0, 255, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "base" / f"cmp_b{i:04d}.jpg")


def test_the_default_split_folder_does_not_depend_on_the_working_directory():
    assert datasets.DEFAULT_CACHE.is_absolute()
    assert datasets.DEFAULT_CACHE == Path(datasets.__file__).resolve().parents[2] / "results" / "cache"


def test_evaluation_from_another_directory_after_the_folder_grew_uses_or_refuses_the_split(
        tmp_path, monkeypatch):
    data = tmp_path / "facade"
    make_facade(data, 20)
    cache = tmp_path / "cache"  # stands in for the (absolute) default, outside the checkout
    monkeypatch.setattr(datasets, "DEFAULT_CACHE", cache)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    cfg = toy_method.tiny_config("data.dataset=facade", f"data.root={data}", "train.iterations=2", "data.size=48",
                                 "eval.masks=[center]", "eval.count=null")
    out = train.train(cfg, run_dir=tmp_path / "r", progress=False)
    recorded = runs.RunFolder(out).read_manifest().split
    test_ids = datasets.open_dataset("facade", "test", size=32, root=data).ids
    assert recorded["test"]["count"] == len(test_ids) == 3
    make_facade(data, 40, start_at=20)  # the folder grew
    monkeypatch.chdir(tmp_path / "b")
    rows = evaluate.evaluate(out, progress=False)
    scored = {row["image_id"] for row in rows_record.read(rows)}
    assert scored == set(test_ids)  # the run's own test split, not a new one
    shutil.rmtree(cache)  # the lists are lost: a new split of the grown folder
    with pytest.raises(evaluate.EvaluationError,
                       match=r"manifest.json: the test split differs from the one this run was trained with "
                             r"\(10 images, .* 3, .* test images could be training images"):
        evaluate.evaluate(out, progress=False)


# --- masks -----------------------------------------------------------------------------------------
def test_an_inverted_mask_and_a_cut_manifest_are_refused(tmp_path):
    out = tmp_path / "masks"
    masks.make_mask_set(out, size=32, count=4, seed=1)
    assert len(masks.test_masks("irregular", 32, bucket=3, count=4, mask_dir=out)) == 4
    with pytest.raises(masks.MaskError, match=r"4 masks for bucket \(0.3,0.4\], fewer than the 24 test images"):
        masks.test_masks("irregular", 32, bucket=3, count=24, mask_dir=out)
    victim = out / "b3" / "00002.png"
    inverted = 255 - np.asarray(Image.open(victim))
    Image.fromarray(inverted).save(victim)
    with pytest.raises(masks.MaskError, match=rf"{victim}: sha256 .* differs from .* in manifest.csv"):
        masks.test_masks("irregular", 32, bucket=3, count=4, mask_dir=out)
    manifest = out / masks.MANIFEST
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(line for line in lines if "b0/0000" not in line or "b0/00000" in line) + "\n")
    with pytest.raises(masks.MaskError, match=r"lists 1 masks for bucket \[0.01,0.1\], but the set was "
                                              r"made with count=4"):
        masks.test_masks("irregular", 32, bucket=0, count=1, mask_dir=out)


# --- errors that name their file -------------------------------------------------------------------
class FailingFile:
    """A real file whose writes raise `error` once `after` bytes were written (see `fail_writes`)."""

    def __init__(self, handle, error, after):
        self.handle, self.error, self.left = handle, error, after

    def write(self, data):
        self.left -= len(data)
        if self.left < 0:
            raise self.error
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)


def fail_writes(monkeypatch, name_part, error, after=1000):
    """Make writes to temporary files whose name holds `name_part` raise `error` part-way, as a
    full disk or a Ctrl-C during the write() system call would (Linux: names from /proc)."""
    real = os.fdopen

    def fdopen(fd, *args, **kwargs):
        handle = real(fd, *args, **kwargs)
        if name_part in os.readlink(f"/proc/self/fd/{fd}"):
            return FailingFile(handle, error, after)
        return handle

    monkeypatch.setattr(os, "fdopen", fdopen)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files from /proc")
def test_ctrl_c_during_a_checkpoint_write_says_interrupted_and_which_file(tmp_path, monkeypatch, capsys):
    cfg = write_config(tmp_path / "run.yaml")
    fail_writes(monkeypatch, "step_0000004.pt", KeyboardInterrupt())
    assert cli.main(["train", str(cfg), "--no-progress", "--run-dir", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"interrupted while writing {tmp_path / 'r' / 'checkpoints' / 'step_0000004.pt'}; the "
                   "partial file was discarded and nothing was lost: the last complete checkpoint is "
                   "step_0000002.pt; rerun the same command to resume")
    run = runs.RunFolder(tmp_path / "r")
    assert runs.run_status(run) == ("failed", err)
    assert sorted(p.name for p in run.checkpoints.iterdir()) == ["step_0000002.pt", "step_0000002.pt.sha256"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files from /proc")
def test_a_full_disk_inside_torch_save_is_named_not_an_enforce_fail(tmp_path, monkeypatch):
    fail_writes(monkeypatch, "step_0000004.pt", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    with pytest.raises(runs.RunError) as caught:
        train.train(toy_method.tiny_config(), run_dir=tmp_path / "r", progress=False)
    assert str(caught.value) == (f"{tmp_path / 'r' / 'checkpoints' / 'step_0000004.pt'}: could not be "
                                 "written (no space left on device); the partial file was discarded and "
                                 "nothing was lost: the last complete checkpoint is step_0000002.pt; "
                                 "rerun the same command to resume")
    run = runs.RunFolder(tmp_path / "r")
    assert runs.run_status(run) == ("failed", str(caught.value))
    runs.load_checkpoint(run.checkpoints / "step_0000002.pt")  # intact, verifies


def tmpfs_available():
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


def in_tmpfs(tmp_path, script):
    """Run `script` (sh) in a private mount namespace with a 4 MiB tmpfs mounted at tmp/disk."""
    (tmp_path / "disk").mkdir(exist_ok=True)
    full = (f"set -e; mount -t tmpfs -o size=4m tmpfs {tmp_path / 'disk'}; cd {tmp_path / 'disk'}\n"
            f"PY={sys.executable}\n{script}")
    return subprocess.run(["unshare", "-rm", "sh", "-c", full], env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not tmpfs_available(), reason="needs unshare -rm and a tmpfs mount (a real full disk)")
def test_a_real_full_disk_during_training_and_evaluation(tmp_path):
    """A 4 MiB tmpfs filled with dd right after the first checkpoint: the next checkpoint's write
    fails inside torch.save; then evaluation on the full disk fails at rows.csv. Both messages
    name the file and say nothing was lost; after freeing the space both resume, and the weights
    equal an uninterrupted run's."""
    cfg = write_config(tmp_path / "run.yaml", "method.options.sleep=0.3", "train.iterations=6",
                       "train.log_every=100", "train.sample_every=100", "train.checkpoint_every=2",
                       "train.keep_last=2", "method.options.noise=0.05", "data.size=48")
    run, out = tmp_path / "disk" / "r", tmp_path
    bench = "$PY -m tests.toy_method"
    script = f"""
( {bench} train {cfg} --no-progress --run-dir {run} > {out}/train1.txt 2>&1 || echo $? > {out}/rc1 ) &
while [ ! -e {run}/checkpoints/step_0000002.pt ]; do sleep 0.01; done
dd if=/dev/zero of={out}/disk/filler bs=64k 2>/dev/null || true
wait
{bench} status {run} > {out}/status1.txt
{bench} evaluate {run} --no-progress eval.masks=[center] > {out}/eval1.txt 2>&1 || echo $? > {out}/rc2
rm {out}/disk/filler
{bench} train {cfg} --no-progress --run-dir {run} > {out}/train2.txt 2>&1
{bench} evaluate {run} --no-progress eval.masks=[center] > {out}/eval2.txt 2>&1
cp -r {run} {out}/r-copy
"""
    result = in_tmpfs(tmp_path, script)
    logs = {p.name: p.read_text() for p in tmp_path.glob("*.txt")}
    assert result.returncode == 0, (result.stdout, result.stderr, logs)
    full = "could not be written (no space left on device)"
    assert (out / "rc1").read_text().strip() == (out / "rc2").read_text().strip() == "2"
    assert logs["train1.txt"].strip().splitlines()[-1] == (
        f"error: {run}/checkpoints/step_0000004.pt: {full}; the partial file was discarded and "
        "nothing was lost: the last complete checkpoint is step_0000002.pt; rerun the same command "
        "to resume")
    # the disk is too full to record the error in the manifest: status reads "failed" from the lock
    assert logs["status1.txt"].startswith(f"{run}: failed — ")
    assert logs["eval1.txt"].strip().splitlines()[-1] == (
        f"error: {run}/eval/rows.csv: {full}; the lines before this batch are kept (a torn last "
        "line is cut on the next run) and nothing else was lost; rerun the same command to continue")
    assert "resuming from" in logs["train2.txt"] and "step_0000002.pt (step 2)" in logs["train2.txt"]
    train_in_process(cfg, tmp_path / "whole")
    assert_same_weights(tmp_path / "whole", tmp_path / "r-copy")
    assert len((tmp_path / "r-copy" / "eval" / "rows.csv").read_text().splitlines()) == 1 + 4


# --- PIC-Net's non-finite step ---------------------------------------------------------------------
def test_picnet_divergence_ends_in_the_trainers_non_finite_stop(tmp_path):
    cfg = config.from_dict({
        "run": {"id": "p"}, "method": {"name": "picnet", "options": {"lr": 1e6}},
        "data": {"dataset": "sample", "size": 64},
        "train": {"iterations": 6, "batch_size": 1, "checkpoint_every": 100, "log_every": 100,
                  "sample_every": 100, "num_workers": 0, "device": "cpu"},
    })
    with pytest.raises(train.TrainingError, match=r"^step \d: non-finite loss \(.*\); training stopped. "
                                                  r"No checkpoint was written before it.$"):
        train.train(cfg, run_dir=tmp_path / "p", progress=False)
    status, error = runs.run_status(runs.RunFolder(tmp_path / "p"))
    assert status == "failed" and "non-finite loss" in error


# --- status, config numbers, a failed set-up -------------------------------------------------------
def test_status_command_reports_live_failed_and_finished(tmp_path, capsys):
    out = train.train(toy_method.tiny_config(), run_dir=tmp_path / "done", progress=False)
    assert cli.main(["status", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: finished\n"


@pytest.mark.parametrize("text", ["1e6", "1E+6", "-2.5e-4", "3e0"])
def test_exponent_numbers_are_numbers_in_configs_and_overrides(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(f"method:\n  name: picnet\n  options:\n    lr: {text}\n")
    assert config.load(path).method.options["lr"] == float(text)
    assert config.load(path, [f"method.options.lr={text}"]).method.options["lr"] == float(text)
    assert config.parse_yaml("v: 1e6x")["v"] == "1e6x"  # not a number stays a string


def test_a_train_that_failed_before_its_first_step_does_not_block_its_id(tmp_path, capsys):
    cfg = write_config(tmp_path / "run.yaml")
    bad = ["train", str(cfg), "--no-progress", "--run-dir", str(tmp_path / "r")]
    assert cli.main([*bad, "method.options.widht=3"]) == 2
    first = capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # checked before the run folder is created
    assert cli.main([*bad, "data.dataset=facade", f"data.root={tmp_path / 'nowhere'}"]) == 2
    assert "nowhere" in capsys.readouterr().err and "widht" in first
    run = runs.RunFolder(tmp_path / "r")
    assert cli.main(bad) == 0, capsys.readouterr().err  # the corrected command takes the id
    assert runs.run_status(run) == ("finished", None)
    assert run.read_config() == config.resolve(config.load(cfg))
