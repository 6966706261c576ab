"""bench.runs: atomic writes, the run folder's life cycle, checkpoints and loss logs."""

import json

import pytest
import torch

from bench import config, runs
from bench.runs import RunError, RunFolder


def state(step):
    """The smallest state load_checkpoint accepts as a run checkpoint."""
    return {**dict.fromkeys(runs.RUN_CHECKPOINT_KEYS), "step": step}


def open_tiny(path, cfg=None):
    return runs.open_run(path, cfg or config.from_dict({"run": {"id": "r"}}), command=["x"],
                         device="cpu", world_size=1)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "file.txt"
    runs.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with runs.atomic_file(target, "w") as handle:
            handle.write("half of the new")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_new_run_has_the_layout_and_manifest(tmp_path):
    run = open_tiny(tmp_path / "r")
    assert run.config_file.is_file() and run.checkpoints.is_dir()
    manifest = json.loads(run.manifest_file.read_text())
    assert set(manifest) >= {"run_id", "method", "dataset", "git_sha", "git_dirty", "packages",
                             "command", "seed", "device", "started", "finished", "status"}
    assert manifest["status"] == "running" and manifest["finished"] is None
    assert manifest["packages"]["torch"] == torch.__version__
    assert run.read_config() == config.resolve(config.from_dict({"run": {"id": "r"}}))


def test_unfinished_run_resumes_with_same_config_only(tmp_path):
    open_tiny(tmp_path / "r")
    run = open_tiny(tmp_path / "r")
    assert len(run.read_manifest().resumed) == 1
    runs.save_checkpoint(run, 2, state(2), keep_last=2)  # it has started
    other = config.from_dict({"run": {"id": "r"}, "train": {"seed": 4, "iterations": 9}})
    with pytest.raises(RunError, match=r"different config \(train.iterations, train.seed\)"):
        open_tiny(tmp_path / "r", other)


def test_a_run_that_never_started_does_not_block_its_id(tmp_path):
    run = open_tiny(tmp_path / "r")
    runs.fail_run(run, "unknown method 'srpnte'")
    other = config.from_dict({"run": {"id": "r"}, "train": {"seed": 4}})
    run = open_tiny(tmp_path / "r", other)
    assert run.read_config() == config.resolve(other)
    manifest = run.read_manifest()
    assert manifest.status == "running" and manifest.error is None and manifest.resumed == []


def test_finished_run_is_never_reopened(tmp_path):
    run = open_tiny(tmp_path / "r")
    runs.finish_run(run)
    assert run.read_manifest().status == "finished"
    before = run.config_file.read_bytes()
    with pytest.raises(RunError, match=r"is finished and is never overwritten.*--run-id NEW"):
        open_tiny(tmp_path / "r")
    assert run.config_file.read_bytes() == before


def test_checkpoints_keep_the_last_k_and_resolve(tmp_path):
    run = open_tiny(tmp_path / "r")
    (run.checkpoints / ".step_0000009.pt.abc.tmp").write_bytes(b"torn")
    for step in (2, 4, 6, 8):
        runs.save_checkpoint(run, step, state(step), keep_last=2)
    assert [p.name for p in runs.list_checkpoints(run)] == ["step_0000006.pt", "step_0000008.pt"]
    assert runs.latest_checkpoint(run).name == "step_0000008.pt"
    assert runs.load_checkpoint(runs.resolve_checkpoint(run, "6"))["step"] == 6
    assert runs.resolve_checkpoint(run, "step_0000006.pt") == run.checkpoints / "step_0000006.pt"
    with pytest.raises(RunError, match="step_0000004.pt: checkpoint not found"):
        runs.resolve_checkpoint(run, 4)
    open_tiny(tmp_path / "r")  # reopening removes the torn temporary
    assert not list(run.checkpoints.glob(".*"))
    with pytest.raises(RunError, match="no checkpoint"):
        runs.resolve_checkpoint(open_tiny(tmp_path / "empty"), None)


def test_losses_are_cut_back_to_the_resumed_step(tmp_path):
    run = RunFolder(tmp_path)
    for step in (2, 4, 6):
        runs.append_losses(run, step, {"g": step / 10, "d": -step})
    with run.losses_file.open("a") as handle:
        handle.write("8,g,0.")  # a process killed mid-append
    runs.truncate_losses(run, 5)
    assert run.losses_file.read_text().splitlines() == [
        "step,name,value", "2,g,0.2", "2,d,-2.0", "4,g,0.4", "4,d,-4.0"]


def test_repair_log_cuts_a_torn_line(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("a,b\n1,2\n3,")
    runs.repair_log(path)
    assert path.read_text() == "a,b\n1,2\n"


def test_evaluation_run_for_official_weights(tmp_path):
    cfg = config.from_dict({"run": {"id": "o"}, "method": {"name": "pennet"}})
    run = runs.open_evaluation_run(tmp_path / "o", cfg, command=["x"], device="cpu",
                                   checkpoint=tmp_path / "w.pth")
    manifest = run.read_manifest()
    assert manifest.status == "finished" and manifest.official_checkpoint.endswith("w.pth")
    runs.open_evaluation_run(tmp_path / "o", cfg, command=["x"], device="cpu", checkpoint="w")
    other = config.from_dict({"run": {"id": "o"}, "method": {"name": "glcic"}})
    with pytest.raises(RunError, match=r"method.name differ"):
        runs.open_evaluation_run(tmp_path / "o", other, command=["x"], device="cpu", checkpoint="w")
