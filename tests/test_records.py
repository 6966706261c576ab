"""Tests for bench.records: the checkpoint's format version, the manifest's typed fields, and
each run-folder file name defined in one module only."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from bench import methods, runs, train
from bench.method import MethodSpec
from bench import config
from bench.records import checkpoint as checkpoint_record
from bench.records import manifest as manifest_record
from bench.records import reading
from tests import toy_method

BENCH = Path(__file__).resolve().parent.parent / "bench"
RUN_FOLDER_NAMES = ("config.yaml", "manifest.json", "method.json", "losses.csv", "rows.csv",
                    "rows.part", "step_", ".sha256")


def _record(step: int = 2) -> checkpoint_record.Checkpoint:
    return checkpoint_record.Checkpoint(step=step, global_batch=4, method_name="toy",
                                        spec=MethodSpec(image_size=32), method={}, rng=[])


def test_a_checkpoint_round_trips_through_its_record_and_is_recorded_in_the_manifest(tmp_path):
    run, _ = _manifest(tmp_path)
    identity = run.read_manifest().identity
    record = dataclasses.replace(_record(), run=identity)
    path = checkpoint_record.save(run, record, keep_last=2)
    assert path == runs.checkpoint_path(run, 2) and runs.checksum_path(path).is_file()
    loaded = checkpoint_record.load(path)
    assert loaded == record and loaded.data_position == 8 and loaded.run["run_id"] == "m"
    manifest = run.read_manifest()
    assert (manifest.last_checkpoint, manifest.last_checkpoint_sha256) == (path.name, runs.file_sha256(path))
    assert len(identity["run_uid"]) == 32 and _manifest(tmp_path / "again")[0].read_manifest().run_uid != identity["run_uid"]


def test_a_checkpoint_of_another_format_is_refused_naming_the_file(tmp_path):
    run = runs.RunFolder(tmp_path)
    path = runs.save_checkpoint(run, 2, {**_record().to_state(), "format": 2}, keep_last=2)
    with pytest.raises(runs.CheckpointError, match=rf"^{path}: checkpoint format 2, this version "
                                                   r"of inpaint-bench reads format 1"):
        checkpoint_record.load(path)
    unversioned = {k: v for k, v in _record(4).to_state().items() if k != "format"}
    older = runs.save_checkpoint(run, 4, unversioned, keep_last=2)
    with pytest.raises(runs.CheckpointError, match=rf"^{older}: checkpoint format None"):
        checkpoint_record.load(older)


def test_an_inconsistent_data_position_is_refused(tmp_path):
    path = runs.save_checkpoint(runs.RunFolder(tmp_path), 2, {**_record().to_state(), "data_position": 7},
                                keep_last=2)
    with pytest.raises(runs.CheckpointError, match=rf"^{path}: data position 7 is not step 2 × global batch 4"):
        checkpoint_record.load(path)


def test_resume_refuses_a_checkpoint_of_another_global_batch(tmp_path, monkeypatch):
    for name, entry in toy_method.ENTRIES.items():
        monkeypatch.setitem(methods.REGISTRY, name, entry)
    cfg = toy_method.tiny_config()
    run = runs.RunFolder(train.train(cfg, run_dir=tmp_path / "run", progress=False))
    last = runs.latest_checkpoint(run)
    record = checkpoint_record.load(last)
    checkpoint_record.save(run, dataclasses.replace(record, global_batch=2 * record.global_batch),
                           keep_last=cfg.train.keep_last)
    run.update_manifest(status="running")  # as if it had stopped before finishing
    with pytest.raises(train.TrainingError, match=rf"^{last}: written with a global batch of "
                                                  rf"{2 * record.global_batch}, this run has {record.global_batch}"):
        train.train(cfg, run_dir=run.path, progress=False)
    assert last.is_file()  # refused, not set aside as corrupt


def _names(path: Path) -> list[str]:
    """The string constants of a module that could name a file: no docstrings, no prose (a
    message or help text may mention a file; it does not define its name); an f-string gives
    its parts."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings
            and not any(c.isspace() for c in node.value)]


def _manifest(tmp_path) -> tuple[runs.RunFolder, manifest_record.Manifest]:
    cfg = config.resolve(config.from_dict({"run": {"id": "m"}}))
    return (runs.open_run(tmp_path / "m", cfg, command=["x"], device="cpu", world_size=1),
            runs.new_manifest(cfg, command=["x"], device="cpu", world_size=1))


def test_a_manifest_round_trips_through_its_record(tmp_path):
    run, _ = _manifest(tmp_path)
    written = run.read_manifest()
    assert written.status == "running" and written.provenance == {"kind": "trained", "recipe": None}
    runs.fail_run(run, "boom")
    assert run.read_manifest() == written.replace(status="failed", error="boom")


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, r"colour: unknown key; known: run_id, profile"),
    ({"stauts": "finished"}, r"stauts: unknown key; did you mean status\?"),
    ({"seed": "0"}, r"seed: bad value '0'; expected an integer"),
    ({"seed": True}, r"seed: bad value True; expected an integer"),
    ({"git_dirty": "no"}, r"git_dirty: bad value 'no'; expected true or false"),
    ({"resumed": [1]}, r"resumed\[0\]: bad value 1; expected a non-empty string"),
    ({"status": "done"}, r"status: bad value 'done'; expected running \| finished \| failed"),
    ({"world_size": 0}, r"world_size: bad value 0; must be at least 1"),
])
def test_a_bad_manifest_is_refused_naming_the_file_and_key(tmp_path, change, message):
    run, _ = _manifest(tmp_path)
    runs.write_json(run.manifest_file, {**runs.read_json(run.manifest_file), **change})
    with pytest.raises(manifest_record.ManifestError, match=rf"^{run.manifest_file}: {message}"):
        run.read_manifest()


def test_a_manifest_missing_a_field_or_not_an_object_is_refused(tmp_path):
    run, manifest = _manifest(tmp_path)
    data = runs.read_json(run.manifest_file)
    del data["device"]
    runs.write_json(run.manifest_file, data)
    with pytest.raises(manifest_record.ManifestError, match=r"manifest.json: device: missing; restore it"):
        run.read_manifest()
    runs.write_json(run.manifest_file, [1, 2])
    with pytest.raises(reading.RecordError, match=r"manifest.json: holds a JSON list, expected an object"):
        run.read_manifest()
    with pytest.raises(manifest_record.ManifestError, match=r"^manifest: world_size: bad value 0"):
        manifest.replace(world_size=0)  # a change is checked as a read is
    assert manifest.replace(error="", command=["x", ""]).error == ""  # these may be empty


def test_each_run_folder_file_name_is_defined_in_one_module():
    found: dict[str, set[str]] = {name: set() for name in RUN_FOLDER_NAMES}
    for path in BENCH.rglob("*.py"):
        module = path.relative_to(BENCH).as_posix()
        for text in _names(path):
            for name in RUN_FOLDER_NAMES:
                if name in text:
                    found[name].add(module)
    assert found == {name: {"runs.py"} for name in RUN_FOLDER_NAMES}
