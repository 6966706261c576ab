"""An evaluation is keyed by what it scored (issue 27, point 4): a checkpoint records its run's
identity and one of another run (even of the same id) is refused unless `--foreign`, then
labelled in rows and report; the last checkpoint is the one the manifest recorded, not the
largest file name; one checkpoint's rows are one mask seed's; `tables` refuses two runs of one
id as `report` does.
"""

import shutil

import pytest

from bench import evaluate, runs, tables, train
from bench.records import checkpoint as checkpoint_record
from bench.records import rows as rows_record
from bench.report import build, results
from tests import toy_method
from tests.test_reliability import assert_same_weights
from tests.test_reading_back import SMALL, cli_line, copy_run, snapshot

pytestmark = pytest.mark.usefixtures("toy_registered")  # tests/conftest.py


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two tiny toy runs of one config and one run id, seeds 0 and 5 (never evaluated: copy them)."""
    root = tmp_path_factory.mktemp("pair")
    with toy_method.registered():
        return {seed: toy_method.train_tiny(root, f"seed{seed}", *SMALL, f"train.seed={seed}")
                for seed in (0, 5)}


def last(run_dir):
    return runs.latest_checkpoint(runs.RunFolder(run_dir))


def copy_checkpoint(source, target):
    """A checkpoint file with its .sha256, as a user would copy it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    runs.write_text(runs.checksum_path(target), f"{runs.file_sha256(target)}  {target.name}\n")
    return target


def rows_of(run_dir):
    return rows_record.read(runs.RunFolder(run_dir).rows_file)


def test_a_checkpoint_of_another_run_of_the_same_id_is_refused_unless_foreign_and_then_labelled(pair, tmp_path, capsys):
    run = copy_run(pair[0], tmp_path / "run")
    other = copy_checkpoint(last(pair[5]), tmp_path / "elsewhere" / "step_0000006.pt")
    ours, theirs = (runs.RunFolder(p).read_manifest().run_uid for p in (run, pair[5]))
    before = snapshot(run)
    code, err = cli_line(capsys, "evaluate", run, "--checkpoint", other, "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert (f"{other}: a checkpoint of run tiny (uid {theirs[:12]}), not of this run tiny "
            f"(uid {ours[:12]}); evaluate it in its own run folder, or give --foreign") in err
    assert snapshot(run) == before
    code, err = cli_line(capsys, "evaluate", run, "--foreign", "--no-progress")
    assert code == 2 and "--foreign goes with --checkpoint FILE" in err and snapshot(run) == before

    # with --foreign: scored, each row labelled with the run it comes from; the report says so
    assert cli_line(capsys, "evaluate", run, "--checkpoint", other, "--foreign", "--no-progress")[0] == 0
    found = rows_of(run)
    assert found and {rows_record.foreign_source(r["protocol"]) for r in found} == {f"tiny (uid {theirs[:12]})"}
    report = results.read_results(results.collect([run], tmp_path / "rep", n_boot=10).path)
    assert report.runs[0].evaluated == [f"step_0000006.pt (foreign: a checkpoint of run tiny (uid {theirs[:12]}))"]

    # its own checkpoint is never labelled, and the tables take it, the run's recorded last
    evaluate.evaluate(run, progress=False)
    own = runs.file_sha256(last(run))
    assert {r["checkpoint_sha256"] for r in rows_of(run) if rows_record.foreign_source(r["protocol"]) is None} == {own}
    assert set(tables.load_rows([run])["checkpoint_sha256"]) == {own}


def test_a_checkpoint_from_before_identities_is_the_runs_own_only_in_its_checkpoints_folder(pair, tmp_path, capsys):
    run = copy_run(pair[0], tmp_path / "run")
    state = runs.load_checkpoint(last(pair[5]))
    del state["run"]  # as written before checkpoints recorded their run
    old = runs.save_checkpoint(runs.RunFolder(tmp_path / "old"), 8, state, keep_last=1)
    assert checkpoint_record.load(old).run is None
    code, err = cli_line(capsys, "evaluate", run, "--checkpoint", old, "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert f"{old}: written before checkpoints recorded their run, and not in this run's folder" in err
    inside = copy_checkpoint(old, runs.RunFolder(run).checkpoints / "step_0000001.pt")
    assert cli_line(capsys, "evaluate", run, "--checkpoint", inside, "--no-progress")[0] == 0
    assert {rows_record.foreign_source(r["protocol"]) for r in rows_of(run)} == {None}


def test_the_last_checkpoint_is_the_one_the_manifest_recorded_not_a_copied_file(pair, tmp_path, capsys):
    run = copy_run(pair[0], tmp_path / "run")
    folder = runs.RunFolder(run)
    recorded = last(run)
    manifest = folder.read_manifest()
    assert (manifest.last_checkpoint, manifest.last_checkpoint_sha256) == (recorded.name, runs.file_sha256(recorded))
    copy_checkpoint(last(pair[5]), folder.checkpoints / "step_0000030.pt")  # a stray file, a larger step
    evaluate.evaluate(run, progress=False)
    assert {(r["checkpoint"], r["checkpoint_sha256"]) for r in rows_of(run)} == {
        (recorded.name, runs.file_sha256(recorded))}
    assert set(tables.load_rows([run])["checkpoint"]) == {recorded.name}

    # the recorded file replaced by another (its own .sha256 beside it): refused, naming the record
    copy_checkpoint(last(pair[5]), recorded)
    before = snapshot(run)
    code, err = cli_line(capsys, "evaluate", run, "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert f"{recorded}: sha256 " in err and f"recorded in {folder.manifest_file} when the run wrote it" in err
    assert snapshot(run) == before


def test_resume_refuses_a_checkpoint_of_another_run_and_resumes_once_it_is_moved(pair, tmp_path, capsys):
    run = copy_run(pair[0], tmp_path / "run")
    folder = runs.RunFolder(run)
    for name in ("step_0000006.pt", "step_0000006.pt.sha256"):  # as if it crashed after step 4
        (folder.checkpoints / name).unlink()
    runs.fail_run(folder, "crashed")
    stray = copy_checkpoint(last(pair[5]), folder.checkpoints / "step_0000006.pt")
    ours, theirs = (runs.RunFolder(p).read_manifest().run_uid for p in (run, pair[5]))
    config = folder.read_config()
    with pytest.raises(train.TrainingError) as refused:
        train.train(config, run_dir=run, progress=False)
    assert str(refused.value) == (
        f"{stray}: a checkpoint of run tiny (uid {theirs[:12]}), not of this run tiny (uid {ours[:12]}); "
        f"nothing was resumed: move it out of {folder.checkpoints} to resume from this run's own checkpoints")
    assert stray.is_file() and runs.file_sha256(stray) == runs.file_sha256(last(pair[5]))
    assert not (folder.checkpoints / "step_0000008.pt").exists()

    shutil.move(stray, tmp_path / "moved.pt")
    runs.checksum_path(stray).unlink()
    capsys.readouterr()
    train.train(config, run_dir=run, progress=False)
    assert "step_0000004.pt (step 4)" in capsys.readouterr().err
    assert_same_weights(pair[0], run)  # the run's own step 6 again, nothing of the stray file in it


def test_one_checkpoints_rows_are_one_mask_seeds(pair, tmp_path, capsys):
    run = copy_run(pair[0], tmp_path / "run")
    folder = runs.RunFolder(run)
    assert cli_line(capsys, "evaluate", run, "eval.count=2", "--no-progress")[0] == 0
    before = snapshot(run)
    for extra in ([], ["eval.count=2"]):  # more images, or the same ones, under another seed
        code, err = cli_line(capsys, "evaluate", run, "eval.mask_seed=5", *extra, "--no-progress")
        assert code == 2 and err.count("\n") == 1
        assert (f"{folder.plan_file}: step_0000006.pt was scored with eval.mask_seed=0; scoring it "
                "with eval.mask_seed=5 would mix two mask sets in its rows") in err
        assert snapshot(run) == before
    (entry,) = rows_record.read_plan(folder).values()
    assert {k: v for k, v in entry.items() if k != "test_split"} == {"masks": ["center", "irregular_0"], "count": 2,
                                                                     "mask_seed": 0}

    # the same seed completes the evaluation; a plan from before seeds were recorded is taken as
    # the config's seed (0 here), so another is refused as well
    assert cli_line(capsys, "evaluate", run, "--no-progress")[0] == 0
    assert {r["image_id"] for r in rows_of(run)} and len(rows_of(run)) == 2 * 4
    runs.write_json(folder.plan_file, {sha: {"masks": e["masks"], "count": e["count"]}
                                       for sha, e in rows_record.read_plan(folder).items()})
    code, err = cli_line(capsys, "evaluate", run, "eval.mask_seed=5", "--no-progress")
    assert code == 2 and "was scored with eval.mask_seed=0" in err
    assert set(tables.load_rows([run]).groupby("mask_setting")["image_id"].nunique()) == {4}


def test_the_report_states_the_mask_seed_and_count_the_rows_were_scored_with_not_the_config(pair, tmp_path, capsys):
    run = copy_run(pair[0], tmp_path / "run")
    assert runs.RunFolder(run).read_config().eval.mask_seed == 0
    assert cli_line(capsys, "evaluate", run, "eval.mask_seed=5", "eval.count=2", "--no-progress")[0] == 0
    report = results.read_results(results.collect([run], tmp_path / "rep", n_boot=10).path)
    glance = dict(build.protocol_view(report.runs, tables.DEFAULT_L1).glance)
    assert glance["Run tiny"].endswith("test images 2 per setting; irregular masks: bench.data.masks seeded "
                                       "generator, mask seed 5; settings center, irregular_0")


@pytest.mark.parametrize("command", ["tables", "report"])
def test_two_runs_of_one_id_are_refused_by_tables_as_by_report(tmp_path, run_factory, capsys, command):
    first = run_factory(tmp_path / "a", "same", "srpnet", "facade", center_only=True)
    second = run_factory(tmp_path / "b", "same", "pennet", "facade", center_only=True)
    code, err = cli_line(capsys, command, first, second, "--out", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1
    assert f"run id 'same' given more than once ({first} and {second})" in err
    assert not (tmp_path / "out").exists()
