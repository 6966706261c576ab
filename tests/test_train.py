"""bench.train: the seeded data stream, the trainer's run folder, exact resume after SIGKILL (one
process, and two under torchrun), non-finite losses, and two gloo processes matching one."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bench import cli, config, methods, runs, setup, train
from bench.method import MethodSpec
from bench.records import checkpoint as checkpoint_record
from bench.records import reading
from bench.records import validation as validation_record
from bench.data import datasets
from tests import toy_method

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("toy_registered")  # tests/conftest.py


def subprocess_env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def start(args, cwd):
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process):
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def write_config(path, *overrides):
    path.write_text(config.dump(toy_method.tiny_config(*overrides)))
    return path


def final_state(run_dir):
    return checkpoint_record.load(runs.latest_checkpoint(runs.RunFolder(run_dir)))


# --- the data stream ---------------------------------------------------------------------------
def test_rank_slices_make_up_the_global_batch():
    single = list(train.StepBatches(3, 6, 8, rank=0, world=1))
    ranks = [list(train.StepBatches(3, 6, 8, rank=r, world=4)) for r in range(4)]
    assert single[0] == list(range(24, 32)) and len(single) == 3
    for step in range(3):
        assert sum((ranks[r][step] for r in range(4)), []) == single[step]


def test_global_batch_must_split_over_processes():
    cfg = toy_method.tiny_config("train.batch_size=6")
    assert train.global_batch_size(cfg, 2) == 6
    with pytest.raises(train.TrainingError, match="batch_size 6 .* over 4 processes"):
        train.global_batch_size(cfg, 4)
    per = toy_method.tiny_config("train.batch_size=6", "train.batch_size_scope=per_process")
    assert train.global_batch_size(per, 4) == 24


def test_stream_is_a_pure_function_of_seed_and_sample_number():
    ds = datasets.open_dataset("sample", "train", size=32)
    a = train.TrainStream(ds, seed=1, mask_kind="mixed")
    b = train.TrainStream(ds, seed=1, mask_kind="mixed")
    for g in (30, 5, 30):  # any order, any instance
        assert all(torch.equal(x, y) for x, y in zip(a[g][:2], b[g][:2]))
    c = train.TrainStream(ds, seed=2, mask_kind="mixed")
    augmented = train.TrainStream(ds, seed=1, mask_kind="square", mask_augment=True)
    plain = train.TrainStream(ds, seed=1, mask_kind="square")
    assert not torch.equal(augmented[0][1], plain[0][1])  # rotated and dilated
    assert plain[0][1].sum() == (ds.size // 2) ** 2
    assert not torch.equal(a[5][1], c[5][1]) or not torch.equal(a[5][0], c[5][0])
    epoch = sorted(int(np.random.default_rng([1, 0, train.PERMUTATION_TAG]).permutation(12)[p])
                   for p in range(12))
    assert epoch == list(range(12))  # an epoch visits every image once


# --- the trainer in-process --------------------------------------------------------------------
def test_training_fills_the_run_folder(tmp_path, capsys):
    cfg = toy_method.tiny_config("train.bf16=true")
    out = train.train(cfg, run_dir=tmp_path / "run", progress=False)
    run = runs.RunFolder(out)
    assert "train.bf16 applies on GPU only; ignored on cpu" in capsys.readouterr().err
    manifest = run.read_manifest()
    assert manifest.status == "finished" and manifest.finished and manifest.world_size == 1
    card = json.loads(run.method_file.read_text())
    assert card["parameter_counts"] == {"g": 8 * 4 * 9 + 8 + 3 * 8 * 9 + 3}
    assert card["departures"] == ["a test double, not a model"]
    assert [p.name for p in runs.list_checkpoints(run)] == ["step_0000004.pt", "step_0000006.pt"]
    state = final_state(out)
    assert state.step == 6 and state.data_position == 24 and state.method["extra"] == {"calls": 6}
    lines = run.losses_file.read_text().splitlines()
    assert lines[0] == "step,name,value" and [l.split(",")[0] for l in lines[1:]] == [
        "2", "2", "4", "4", "6", "6"]
    events = EventAccumulator(str(run.tb))
    events.Reload()
    assert events.Tags()["images"] == ["samples"]  # the preview grid, at step 3 and 6
    assert {"loss/l1", "loss/hole_l1", "speed/images_per_s"} <= set(events.Tags()["scalars"])
    assert yaml.safe_load(run.config_file.read_text())["train"]["bf16"] is True
    with pytest.raises(runs.RunError, match="is finished"):
        train.train(cfg, run_dir=out, progress=False)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = toy_method.tiny_config("method.options.nan_at_step=4", "train.iterations=8")
    with pytest.raises(train.TrainingError) as caught:
        train.train(cfg, run_dir=tmp_path / "run", progress=False)
    message = str(caught.value)
    assert message.startswith("step 5: non-finite loss (l1=nan")  # the 5th step, as losses.csv counts
    assert "Last good checkpoint:" in message and "step_0000004.pt" in message
    run = runs.RunFolder(tmp_path / "run")
    assert [p.name for p in runs.list_checkpoints(run)] == ["step_0000002.pt", "step_0000004.pt"]
    weights = runs.load_checkpoint(runs.latest_checkpoint(run))["method"]["networks"]["g"]
    assert all(torch.isfinite(w).all() for w in weights.values())
    manifest = run.read_manifest()
    assert manifest.status == "failed" and manifest.error == message


def test_validation_leaves_training_bit_identical_and_runs_every_n_steps_and_at_the_end(tmp_path, capsys):
    common = ("data.size=64", "method.options.noise=0.05", "train.iterations=7", "train.validate_count=3")
    off = train.train(toy_method.tiny_config(*common), run_dir=tmp_path / "off", progress=False)
    on = train.train(toy_method.tiny_config(*common, "train.validate_every=3"), run_dir=tmp_path / "on",
                     progress=False)
    a, b = final_state(off), final_state(on)
    for name, tensor in a.method["networks"]["g"].items():
        assert torch.equal(tensor, b.method["networks"]["g"][name]), name
    assert torch.equal(a.method["optimizers"]["g"]["state"][0]["exp_avg"],
                       b.method["optimizers"]["g"]["state"][0]["exp_avg"])
    assert torch.equal(a.rng[0]["torch"], b.rng[0]["torch"])
    assert (off / "losses.csv").read_text() == (on / "losses.csv").read_text()
    assert not runs.RunFolder(off).validation_file.exists()
    frame = validation_record.read(runs.RunFolder(on).validation_file)
    assert list(zip(frame["step"], frame["setting"])) == [
        (s, m) for s in (3, 6, 7) for m in ("center", "irregular_3")]
    assert frame["psnr"].between(5, 60).all() and (frame["seconds"] >= 0).all()
    events = EventAccumulator(str(runs.RunFolder(on).tb))
    events.Reload()
    assert [e.step for e in events.Scalars("validation/center/psnr")] == [3, 6, 7]
    assert [e.value for e in events.Scalars("validation/irregular_3/l1")] == pytest.approx(
        list(frame.loc[frame["setting"] == "irregular_3", "l1"]))
    capsys.readouterr()
    assert cli.main(["status", str(on)]) == 0
    last = frame[frame["step"] == 7].set_index("setting")
    assert capsys.readouterr().out.splitlines()[1] == (
        f"  validation at step 7: center L1 {last.l1['center']:.2f}%, PSNR {last.psnr['center']:.2f} dB, "
        f"MS-SSIM {last.msssim['center']:.2f}%; irregular_3 L1 {last.l1['irregular_3']:.2f}%, "
        f"PSNR {last.psnr['irregular_3']:.2f} dB, MS-SSIM {last.msssim['irregular_3']:.2f}%")


def test_a_resumed_run_cuts_the_validation_rows_it_will_write_again(tmp_path):
    path = tmp_path / "validation.csv"
    row = {"l1": 1.0, "psnr": 20.0, "msssim": 50.0, "spread": 30.0, "seconds": 0.1}
    validation_record.append(path, [{"step": s, "setting": "center", **row} for s in (3, 6)])
    path.write_bytes(path.read_bytes() + b"9,cen")  # killed mid-line
    validation_record.truncate(path, 4)  # resuming from step 3
    assert list(validation_record.read(path)["step"]) == [3]
    path.write_text("step,name,value\n")
    with pytest.raises(reading.RecordError, match="validation.csv: line 1: missing column"):
        validation_record.read(path)


def test_a_validation_log_written_before_the_spread_column_is_still_read_and_extended(tmp_path):
    """Runs validated before issue 26 logged no spread: their validation.csv stays readable (the
    spread missing) and a resume appends rows in the file's own columns."""
    path = tmp_path / "validation.csv"
    path.write_text("step,setting,l1,psnr,msssim,seconds\n200,center,9.5,23.1,80.0,0.5\n")
    row = {"l1": 9.0, "psnr": 23.5, "msssim": 81.0, "spread": 30.0, "seconds": 0.4}
    validation_record.append(path, [{"step": 400, "setting": "center", **row}])
    frame = validation_record.read(path)
    assert list(frame["step"]) == [200, 400] and list(frame["psnr"]) == [23.1, 23.5]
    assert frame["spread"].isna().all()
    assert path.read_text().splitlines()[-1] == "400,center,9.0,23.5,81.0,0.4"


def test_resume_after_a_different_config_is_refused(tmp_path):
    cfg = toy_method.tiny_config("method.options.nan_at_step=3")
    with pytest.raises(train.TrainingError):
        train.train(cfg, run_dir=tmp_path / "run", progress=False)
    with pytest.raises(runs.RunError, match=r"different config \(method.options.nan_at_step\)"):
        train.train(toy_method.tiny_config(), run_dir=tmp_path / "run", progress=False)


# --- real processes ----------------------------------------------------------------------------
def train_in_process(cfg_path, run_dir):
    """The reference run, in this process with one thread like the subprocesses."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train.train(config.load(cfg_path), run_dir=run_dir, progress=False)
    finally:
        torch.set_num_threads(threads)


def test_sigkill_and_rerun_gives_bit_identical_weights(tmp_path):
    cfg = write_config(tmp_path / "run.yaml", "method.options.noise=0.05", "method.options.sleep=0.02",
                       "train.iterations=24", "train.checkpoint_every=3", "train.log_every=3",
                       "train.sample_every=4", "train.num_workers=1", "train.seed=3", "data.size=64",
                       "train.validate_every=5", "train.validate_count=2", "train.validate_masks=[center]")
    command = ["-m", "tests.toy_method", "train", str(cfg), "--no-progress", "--run-dir", "killed"]
    killed = start(command, tmp_path)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 60
    while not list(checkpoints.glob("step_*.pt")):
        assert killed.poll() is None and time.monotonic() < deadline, killed.stdout.read()
        time.sleep(0.01)
    delay = random.uniform(0.0, 0.3)
    time.sleep(delay)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    run = runs.RunFolder(tmp_path / "killed")
    assert run.read_manifest().status == "running", f"finished before the kill ({delay:.2f}s)"
    killed_at = runs.latest_checkpoint(run).name
    rerun = start(command, tmp_path)
    train_in_process(cfg, tmp_path / "whole")
    finish(rerun)

    a, b = final_state(tmp_path / "whole"), final_state(tmp_path / "killed")
    assert a.step == b.step == 24
    for name, tensor in a.method["networks"]["g"].items():
        assert torch.equal(tensor, b.method["networks"]["g"][name]), (name, killed_at, delay)
    assert torch.equal(a.method["optimizers"]["g"]["state"][0]["exp_avg"],
                       b.method["optimizers"]["g"]["state"][0]["exp_avg"])
    assert a.method["extra"] == b.method["extra"] == {"calls": 24}
    losses = [(tmp_path / r / "losses.csv").read_text() for r in ("whole", "killed")]
    assert losses[0] == losses[1]
    checks = [validation_record.read(runs.RunFolder(tmp_path / r).validation_file).drop(columns="seconds")
              for r in ("whole", "killed")]  # validation on: resumed, each step validated once
    assert list(checks[0]["step"]) == [5, 10, 15, 20, 24] and checks[0].equals(checks[1])
    assert len(run.read_manifest().resumed) == 1


def processes_with(*words):
    """PIDs of the processes whose command line holds every one of `words` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and all(w.encode() in command for w in words):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the workers in /proc")
def test_sigkill_of_a_two_process_run_and_rerun_gives_bit_identical_weights(tmp_path):
    cfg = write_config(tmp_path / "run.yaml", "method.options.noise=0.05", "method.options.sleep=0.05",
                       "train.iterations=16", "train.checkpoint_every=2", "train.batch_size=4",
                       "train.num_workers=0", "train.seed=5")

    def torchrun(run_dir):
        return subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
             "-m", "tests.toy_method", "train", str(cfg), "--no-progress", "--run-dir", run_dir],
            cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)

    killed = torchrun("killed")
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 90
    while len(list(checkpoints.glob("step_*.pt"))) < 2:
        assert killed.poll() is None and time.monotonic() < deadline, killed.stdout.read()
        time.sleep(0.01)
    # torchrun starts its workers in sessions of their own: find them by their command line
    workers = [pid for pid in processes_with(str(cfg), "killed") if pid != killed.pid]
    assert len(workers) == 2, workers
    for pid in [killed.pid, *workers]:
        os.kill(pid, signal.SIGKILL)
    killed.wait()
    assert runs.RunFolder(tmp_path / "killed").read_manifest().status == "running"
    whole = torchrun("whole")
    finish(whole)
    finish(torchrun("killed"))
    a, b = final_state(tmp_path / "whole"), final_state(tmp_path / "killed")
    assert a.step == b.step == 16 and len(b.rng) == 2
    for name, tensor in a.method["networks"]["g"].items():
        assert torch.equal(tensor, b.method["networks"]["g"][name]), name
    assert len(runs.RunFolder(tmp_path / "killed").read_manifest().resumed) == 1


def test_two_gloo_processes_match_one_process(tmp_path):
    cfg = write_config(tmp_path / "run.yaml", "train.iterations=5", "train.checkpoint_every=5",
                       "train.batch_size=4")
    args = ["tests.toy_method", "train", str(cfg), "--no-progress", "--run-dir", "two"]
    pair = start(["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                  "-m", *args], tmp_path)
    train_in_process(cfg, tmp_path / "one")
    finish(pair)
    a, b = final_state(tmp_path / "one"), final_state(tmp_path / "two")
    assert len(a.rng) == 1 and len(b.rng) == 2
    assert runs.RunFolder(tmp_path / "two").read_manifest().world_size == 2
    for name, tensor in a.method["networks"]["g"].items():
        torch.testing.assert_close(b.method["networks"]["g"][name], tensor, rtol=0, atol=1e-5)
    cfg = toy_method.tiny_config()
    initial = setup.method_without_data(cfg)
    assert not torch.equal(initial.networks["g"][0].weight, a.method["networks"]["g"]["0.weight"])


@pytest.mark.parametrize("override, message", [
    ("method.name=nosuch", "unknown method 'nosuch'"),
    ("data.dataset=nosuch", "unknown dataset 'nosuch'"),
    ("data.dataset=dtd", "dataset 'dtd' needs a data root"),
    ("method.name=pennet data.size=40", "the pyramid generator needs square images whose side is a multiple"),
])
def test_a_train_that_fails_its_checks_leaves_no_run_folder(tmp_path, override, message):
    """Checked first, then created: a run folder left behind would hold the id of a run that never was."""
    with pytest.raises(Exception, match=message):
        train.train(toy_method.tiny_config(*override.split()), run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_the_size_check_leaves_the_rng_and_the_modes_as_they_were():
    method = methods.create("toy", MethodSpec(image_size=32))
    method.networks["g"].train()
    method.networks["g"][0].eval()  # a module the method keeps in eval mode stays there
    state = torch.get_rng_state()
    train.check_runs_at_size(method, 32, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), state)
    assert method.networks["g"].training and not method.networks["g"][0].training
