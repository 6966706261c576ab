"""Signs of divergence (bench.divergence): each signal on synthetic and measured series, and a toy
run made to diverge on purpose — reported at its step, shown by `status`, stopped before its
checkpoint with train.stop_on_divergence — beside a normal toy run that is not flagged."""

from __future__ import annotations

import json

import pytest
import torch

from bench import divergence, runs
from bench.cli import main as cli
from bench.divergence import LOSS_FACTOR, LOSS_WINDOW, PSNR_DROP_DB, SPREAD_FLOOR, Watch
from bench.records import divergence as divergence_record
from bench.train import Diverged, train
from tests import toy_method

pytestmark = pytest.mark.usefixtures("toy_registered")


# --- the signals ---------------------------------------------------------------------------
def test_a_loss_over_the_factor_times_its_running_median_is_a_signal_once_warmed_up():
    watch = Watch(None)
    assert watch.losses(1, {"l1": 50.0}) == []  # nothing to compare with yet
    for step in range(2, LOSS_WINDOW + 2):
        assert watch.losses(step, {"l1": 1.0}) == []
    assert watch.losses(20, {"l1": 0.99 * LOSS_FACTOR}) == []
    (signal,) = watch.losses(21, {"l1": 1.01 * LOSS_FACTOR})
    assert (signal.step, signal.signal, signal.name, signal.reference) == (21, "loss", "l1", 1.0)
    assert "2.0× the median 1" in signal.message
    assert watch.losses(22, {"l1": 1.01 * LOSS_FACTOR}) == []  # still over: said at its onset only


def test_only_the_methods_watched_losses_are_checked():
    watch = Watch(("g_hole",))
    for step in range(1, LOSS_WINDOW + 1):
        watch.losses(step, {"g_hole": 1.0, "d_loss": 1.0})
    assert [s.name for s in watch.losses(11, {"g_hole": 9.0, "d_loss": 9.0})] == ["g_hole"]


def test_a_validation_psnr_well_under_the_runs_best_is_a_signal():
    watch = Watch(None)
    row = {"setting": "center", "spread": 40.0}
    assert watch.validation(20, [{**row, "psnr": 22.0}]) == []
    assert watch.validation(40, [{**row, "psnr": 22.0 - 0.99 * PSNR_DROP_DB}]) == []
    (signal,) = watch.validation(60, [{**row, "psnr": 22.0 - 1.01 * PSNR_DROP_DB}])
    assert (signal.signal, signal.name, signal.reference) == ("validation", "center", 22.0)


def test_an_output_that_stops_depending_on_its_input_is_a_signal_but_a_flat_start_is_not():
    watch = Watch(None)
    row = {"setting": "center", "psnr": 20.0}
    assert watch.validation(20, [{**row, "spread": 0.5 * SPREAD_FLOOR}]) == []  # never varied yet
    assert watch.validation(40, [{**row, "spread": 40.0}]) == []
    (signal,) = watch.validation(60, [{**row, "spread": 0.9 * SPREAD_FLOOR}])
    assert (signal.signal, signal.name) == ("collapse", "center")


# Measured: the quick profile's SRPNet recipe (lr 1e-3, batch 8, 64², the sample data) run on to
# step 460 (docs/reliability.md): its logged g_hole and g_valid (every 10 steps, 10 … 400) and its
# validation PSNR (every 20 steps, 20 … 400). It diverges between steps 350 and 360.
SRPNET_G_HOLE = (0.4482, 0.3952, 0.3626, 0.3502, 0.3377, 0.3725, 0.3221, 0.3352, 0.2852, 0.3191, 0.3144,
                 0.2950, 0.3253, 0.3188, 0.2837, 0.2863, 0.2704, 0.2581, 0.2952, 0.2746, 0.2613, 0.2658,
                 0.2761, 0.2654, 0.2686, 0.2549, 0.2343, 0.2392, 0.2543, 0.2703, 0.2628, 0.2718, 0.2502,
                 0.2493, 0.2662, 0.4389, 0.7942, 0.7498, 0.7603, 0.7839)
SRPNET_G_VALID = (0.4066, 0.3591, 0.3473, 0.3102, 0.3073, 0.3308, 0.3048, 0.2909, 0.2657, 0.2624, 0.2450,
                  0.2481, 0.2696, 0.2745, 0.2362, 0.2373, 0.2287, 0.2224, 0.2242, 0.2187, 0.2134, 0.2145,
                  0.2051, 0.1989, 0.2210, 0.2177, 0.1939, 0.1936, 0.2033, 0.2151, 0.2024, 0.2090, 0.1994,
                  0.1967, 0.2095, 0.4226, 0.8201, 0.7739, 0.7800, 0.7921)
SRPNET_PSNR = {"center": (19.75, 21.82, 20.08, 21.34, 22.44, 22.37, 21.96, 23.06, 21.87, 23.08, 23.00, 23.59,
                          23.09, 23.06, 22.38, 23.44, 22.97, 14.16, 14.16, 14.16),
               "irregular_3": (17.94, 18.90, 18.22, 18.46, 20.07, 19.82, 19.55, 20.28, 19.76, 20.61, 20.83,
                               20.73, 21.11, 20.93, 20.47, 20.94, 21.20, 11.97, 12.05, 12.05)}


def test_the_measured_srpnet_divergence_trips_at_step_360_and_nothing_before_it():
    watch = Watch(("g_hole", "g_valid"))
    losses = [s for step, hole, valid in zip(range(10, 401, 10), SRPNET_G_HOLE, SRPNET_G_VALID)
              for s in watch.losses(step, {"g_hole": hole, "g_valid": valid, "lr": 1e-3})]
    assert [(s.step, s.name) for s in losses] == [(360, "g_valid"), (370, "g_hole")]
    scores = [s for i, step in enumerate(range(20, 401, 20))
              for s in watch.validation(step, [{"setting": name, "psnr": values[i], "spread": 40.0}
                                               for name, values in SRPNET_PSNR.items()])]
    assert [(s.step, s.name) for s in scores] == [(360, "center"), (360, "irregular_3")]


def test_spread_is_the_hole_pixels_deviation_across_images_in_grey_levels():
    holes = torch.zeros(3, 1, 4, 4)
    holes[:, :, :2] = 1  # the top half is a hole in every image
    holes[0, :, 3, 3] = 1  # a hole in one image only: no spread to measure there
    same = torch.full((3, 3, 4, 4), 0.2)
    assert divergence.spread(same, holes) == pytest.approx(0.0)
    varied = same.clone()
    varied[:, :, :2] = torch.tensor([-0.1, 0.0, 0.1]).view(3, 1, 1, 1)  # std 0.1 on [-1, 1]
    varied[0, :, 3, 3] = 1.0
    assert divergence.spread(varied, holes) == pytest.approx(0.1 * 127.5)


# --- a toy run made to diverge ---------------------------------------------------------------
COLLAPSE = 23  # 0-based: logged (every 2 steps) and validated (every 4) at step 24
RUN = ("data.size=64", "train.iterations=28", "train.log_every=2", "train.validate_every=4",
       "train.validate_count=6", "train.checkpoint_every=4", "train.keep_last=10")


def test_a_normal_toy_run_is_not_flagged(tmp_path):
    folder = runs.RunFolder(train(toy_method.tiny_config(*RUN), run_dir=tmp_path / "run", progress=False))
    assert not folder.divergence_file.exists()


def test_a_toy_run_made_to_diverge_is_reported_at_its_step_and_status_shows_it(tmp_path, capsys):
    config = toy_method.tiny_config(*RUN, f"method.options.collapse_at_step={COLLAPSE}")
    folder = runs.RunFolder(train(config, run_dir=tmp_path / "run", progress=False))
    found = divergence_record.read(folder.divergence_file)
    assert {(s.step, s.signal) for s in found} >= {(24, "loss"), (24, "validation"), (24, "collapse")}
    assert min(s.step for s in found) == 24
    said = capsys.readouterr().err
    assert "[train] divergence at step 24: loss l1" in said
    assert cli(["status", str(folder.path)]) == 0
    shown = capsys.readouterr().out
    assert f"{folder.path}: finished" in shown
    assert "  divergence at step 24: output collapsed: the center predictions" in shown


def test_stop_on_divergence_stops_before_the_steps_checkpoint_and_the_run_is_not_resumed(tmp_path, capsys):
    config = toy_method.tiny_config(*RUN, f"method.options.collapse_at_step={COLLAPSE}",
                                    "train.stop_on_divergence=true")
    with pytest.raises(Diverged, match=r"step 24: stopped on divergence .*: loss l1 .*step_0000020\.pt"):
        train(config, run_dir=tmp_path / "run", progress=False)
    folder = runs.RunFolder(tmp_path / "run")
    assert [runs.checkpoint_path(folder, s) for s in (4, 8, 12, 16, 20)] == runs.list_checkpoints(folder)
    for path in runs.list_checkpoints(folder):
        runs.verify_checkpoint(path)
    manifest = json.loads(folder.manifest_file.read_text())
    assert (manifest["status"], manifest["diverged_at"]) == ("failed", 24)
    assert manifest["error"].startswith("step 24: stopped on divergence")
    assert max(int(line.split(",")[0]) for line in folder.losses_file.read_text().splitlines()[1:]) == 24
    with pytest.raises(runs.RunError, match="stopped on divergence at step 24 .* is not resumed"):
        train(config, run_dir=tmp_path / "run", progress=False)
    assert cli(["status", str(folder.path)]) == 0
    assert f"{folder.path}: failed — step 24: stopped on divergence" in capsys.readouterr().out


def test_a_stopped_run_is_evaluated_from_before_it_and_the_report_marks_it(tmp_path, capsys):
    from bench.evaluate import evaluate
    from bench.report.results import collect, read_results

    config = toy_method.tiny_config(*RUN, f"method.options.collapse_at_step={COLLAPSE}",
                                    "train.stop_on_divergence=true", "eval.masks=[center]", "eval.count=4")
    with pytest.raises(Diverged):
        train(config, run_dir=tmp_path / "run", progress=False)
    evaluate(tmp_path / "run", progress=False)
    assert "stopped on divergence at step 24 of its 28: scoring step_0000020.pt" in capsys.readouterr().err
    results = read_results(collect([tmp_path / "run"], tmp_path / "report", n_boot=10).path)
    (run,) = results.runs
    assert (run.status, results.diverged_at(run)) == ("failed", 24)
    assert any(b.startswith("tiny: diverged at step 24 (loss l1") and "it stopped there" in b
               for b in results.data["banners"])


def test_a_resumed_run_reports_what_an_uninterrupted_one_does(tmp_path):
    config = toy_method.tiny_config(*RUN, f"method.options.collapse_at_step={COLLAPSE}")
    whole = runs.RunFolder(train(config, run_dir=tmp_path / "whole", progress=False))
    resumed = runs.RunFolder(train(config, run_dir=tmp_path / "resumed", progress=False))
    for step in (16, 20, 24, 28):  # as if it had died after step 12's checkpoint
        runs.checkpoint_path(resumed, step).unlink()
        runs.checksum_path(runs.checkpoint_path(resumed, step)).unlink()
    runs.fail_run(resumed, "killed")
    train(config, run_dir=resumed.path, progress=False)  # 13 … 28 again: its watch replays 1 … 12
    assert divergence_record.read(resumed.divergence_file) == divergence_record.read(whole.divergence_file)
    assert min(s.step for s in divergence_record.read(resumed.divergence_file)) == 24
