"""`inpaint-bench reproduce PROFILE`: plan the runs of a profile, then train, evaluate, report.

Stages run in order and each is idempotent: a finished training is skipped, an interrupted one
resumes from its last checkpoint, evaluation skips the rows it already wrote, and the tables and
report are rebuilt from the rows. `--only train|eval|report` runs one stage; `--datasets` and
`--methods` narrow the plan. With more than one GPU visible (or `--nproc N`) each training and
each evaluation runs under torchrun. Before training, the paper profiles check the data against Table 1 and print an
estimate of the training time from a short measured warm-up.

A run the profile evaluates from released weights (`release:` in its per_method entry) is scored
from the file under the weights folder (--weights-root or weights.root) into its own folder
`<run id>-released`. Every such file is looked up before anything is trained: one missing stops
the profile with its name and download page, unless --train-missing, which trains that method
with the recipe its profile entry gives (its authors') and says so.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from bench import config as config_module
from bench import methods, metrics, profiles, runs, setup
from bench.data import datasets
from bench.method import ReleaseError

STAGES = ("train", "eval", "report")
REPORTS_ROOT = Path("results/reports")


class ReproduceError(RuntimeError):
    """A prerequisite of a reproduction that does not hold."""


def say(message: str) -> None:
    print(f"[reproduce] {message}", flush=True)


def check_data(profile: profiles.Profile, cache_dir: Path | None) -> dict[str, dict[str, int]]:
    """Found versus expected images per real dataset and split (the paper's Table 1)."""
    counts: dict[str, dict[str, int]] = {}
    for dataset in sorted({r.dataset for r in profile.runs}):
        root = next(r.config.data.root for r in profile.runs if r.dataset == dataset)
        if dataset in datasets.REAL_DATASETS and root is None:
            raise ReproduceError(f"dataset {dataset!r} needs --data-root DIR (DIR/{dataset}/ or DIR itself): "
                                 f"expected {datasets.REAL_DATASETS[dataset].layout}")
        report = datasets.check_dataset(dataset, None if root is None else Path(root), cache_dir)
        counts[dataset] = {row["split"]: row["found"] for row in report}
        for row in report:
            flag = "" if row["found"] == row["expected"] else "  (differs from the paper's Table 1)"
            say(f"data {dataset:10s} {row['split']:5s} {row['found']:>9,d} of {row['expected']:>9,d}{flag}")
            if row["missing"]:
                raise ReproduceError(f"dataset {dataset!r}: {len(row['missing'])} listed file(s) missing "
                                     f"(first: {row['missing'][0]}); run `inpaint-bench data check {dataset}`")
    return counts


def visible_devices() -> str:
    if torch.cuda.is_available():
        names = {torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())}
        return f"{torch.cuda.device_count()} GPU(s): {', '.join(sorted(names))}"
    return f"CPU only ({torch.get_num_threads()} threads)"


def estimate(profile: profiles.Profile, steps: int = 2) -> float:
    """Seconds of training for the whole plan, from `steps` timed steps of each run's method
    on random data (data loading excluded), after one untimed step."""
    total = 0.0
    device = setup.resolve_device("auto")
    for run in profile.runs:
        c = run.config
        size, batch = c.data.size, c.train.batch_size
        method = setup.method_without_data(c, device)
        images = torch.rand(batch, 3, size, size, device=device) * 2 - 1
        masks = torch.zeros(batch, 1, size, size, device=device)
        masks[..., size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
        method.train_step(images, masks, 0)
        start = time.perf_counter()
        for step in range(steps):
            method.train_step(images, masks, step + 1)
        per_step = (time.perf_counter() - start) / steps
        total += per_step * c.train.iterations
        say(f"estimate {run.run_id}: {per_step:.2f} s/step × {c.train.iterations:,d} steps "
            f"= {per_step * c.train.iterations / 3600:.1f} h")
    say(f"estimate for all training: {total / 3600:.1f} h on {visible_devices()} (data loading excluded)")
    return total


def split_releases(profile: profiles.Profile, weights_root: Path | None,
                   train_missing: bool) -> tuple[list[profiles.PlannedRun], list[tuple[profiles.PlannedRun, Path]]]:
    """(runs to train, release runs with their weights files); a missing release raises here,
    before any training, unless `train_missing` moves its run to the trained ones."""
    from bench import weights

    trained, released = [], []
    missing: dict[str, list[str]] = {}  # error (naming the file) → the runs that need it
    for run in profile.runs:
        if run.release is None:
            trained.append(run)
            continue
        c = run.config
        root = weights_root or (None if c.weights.root is None else Path(c.weights.root))
        try:
            if root is None:
                raise ReleaseError(f"release {run.release!r}: no weights folder given (--weights-root DIR or weights.root)")
            released.append((run, weights.release_path(setup.method_without_data(c), run.release, root)))
        except ReleaseError as error:
            if not train_missing:
                missing.setdefault(str(error), []).append(run.released_id)
                continue
            say(f"{run.run_id}: {error}; --train-missing: training {run.method} on {run.dataset} "
                f"with the {profiles.RECIPE_LABELS.get(c.run.recipe, 'profile recipe')} instead")
            trained.append(run)
    if missing:
        raise ReproduceError("released weights missing, nothing was trained (put the files under the weights "
                             "folder, or pass --train-missing to train these methods with their authors' recipe):\n  "
                             + "\n  ".join(f"{error} (for {', '.join(ids)})" for error, ids in missing.items()))
    return trained, released


def release_stage(run: profiles.PlannedRun, weights_path: Path, runs_root: Path, progress: bool) -> None:
    from bench.evaluate import evaluate_official

    say(f"evaluate {run.released_id} from released weights {weights_path}")
    evaluate_official(run.released_config(), weights_path, run_dir=runs_root / run.released_id, progress=progress)


def train_stage(run: profiles.PlannedRun, runs_root: Path, nproc: int, progress: bool) -> None:
    if methods.entry(run.method).training_free:
        say(f"train {run.run_id}: training-free reference, nothing to train")
        return
    if run.trained_by is not None:
        say(f"train {run.run_id}: the same network and settings as {run.trained_by}, trained once there")
        return
    run_dir = runs_root / run.run_id
    folder = runs.RunFolder(run_dir)
    if folder.manifest_file.is_file() and folder.read_manifest().status == "finished":
        say(f"train {run.run_id}: finished already, skipped")
        return
    say(f"train {run.run_id}")
    if nproc > 1:
        plan_file = runs_root.parent / "cache" / "plans" / f"{run.run_id}.yaml"
        runs.write_text(plan_file, config_module.dump(run.config))
        torchrun("train", [str(plan_file), "--run-dir", str(run_dir)], nproc, progress, f"training {run.run_id}")
        return
    from bench.train import train

    train(run.config, run_dir=run_dir, progress=progress)


def torchrun(command_name: str, arguments: list[str], nproc: int, progress: bool, what: str) -> None:
    """Run `inpaint-bench command_name arguments` under torchrun with `nproc` processes here."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "bench", command_name, *arguments, *([] if progress else ["--no-progress"])]
    if subprocess.run(command).returncode != 0:
        raise ReproduceError(f"{what} under torchrun failed; rerun to resume")


def eval_stage(run: profiles.PlannedRun, runs_root: Path, nproc: int, progress: bool) -> None:
    from bench.evaluate import evaluate

    run_dir = runs_root / run.run_id
    if methods.entry(run.method).training_free:
        say(f"evaluate {run.run_id} (training-free reference)")
        evaluate(run.config, run_dir=run_dir, progress=progress)
        return
    if run.trained_by is not None:
        say(f"evaluate {run.run_id} from {run.trained_by}'s training (the same network and settings)")
        evaluate(run.config, run_dir=run_dir, shared=runs_root / run.trained_by, progress=progress)
        return
    if not runs.RunFolder(run_dir).config_file.is_file():
        raise ReproduceError(f"evaluate {run.run_id}: not trained yet ({run_dir} missing); run the train stage")
    say(f"evaluate {run.run_id}")
    if nproc > 1:
        torchrun("evaluate", [str(run_dir)], nproc, progress, f"evaluating {run.run_id}")
        return
    evaluate(run_dir, progress=progress)


def summary(rows: pd.DataFrame, l1: str) -> str:
    """A short terminal table: centre-mask means per dataset (or sample-set stand-in) and method."""
    from bench import tables

    centre = rows[rows["mask_setting"] == "center"]
    if centre.empty:
        return "(no centre-mask rows)"
    centre = centre.assign(dataset=[tables.dataset_label(dataset, source)
                                    for dataset, source in zip(centre["dataset"], centre["source"])])
    table = centre.groupby(["dataset", "method"], sort=False)[[l1, "psnr", "msssim_pct"]].mean().round(2)
    return table.to_string()


def report_stage(profile: profiles.Profile, run_ids: list[str], runs_root: Path, out_dir: Path, l1: str,
                 data_counts: dict[str, dict[str, int]] | None) -> Path:
    """Collect the evaluated runs into the report folder (tables computed once), then render it."""
    from bench import tables
    from bench.report.build import build_report

    run_dirs = [runs_root / i for i in run_ids if runs.RunFolder(runs_root / i).rows_file.is_file()]
    if not run_dirs:
        raise ReproduceError(f"no evaluated runs of profile {profile.name!r} under {runs_root}; run the eval stage")
    title = f"inpaint-bench — {profile.name}: {profile.description}"
    report = build_report(run_dirs, out_dir, l1=l1, title=title, data_counts=data_counts,
                          protocols=profile.protocols)
    print(summary(tables.load_rows(run_dirs), l1))
    return report


def reproduce(profile_name: str, *, data_root: Path | None = None, datasets_filter: list[str] | None = None,
              methods_filter: list[str] | None = None, only: str | None = None, nproc: int | None = None,
              overrides: list[str] | None = None, runs_root: Path = runs.RUNS_ROOT,
              reports_root: Path = REPORTS_ROOT, l1: str = metrics.DEFAULT_L1, progress: bool = True,
              warmup: bool | None = None, weights_root: Path | None = None,
              train_missing: bool = False) -> Path | None:
    profile = profiles.plan(profile_name, data_root=data_root, datasets=datasets_filter,
                            methods=methods_filter, overrides=overrides)
    if not profile.runs:
        raise ReproduceError(f"profile {profile_name!r}: nothing to run with these filters")
    if only is not None and only not in STAGES:
        raise ReproduceError(f"--only {only!r}: use one of {', '.join(STAGES)}")
    say(f"profile {profile.name}: {profile.description}; {len(profile.runs)} run(s)")
    nproc = nproc or max(1, torch.cuda.device_count())
    say(f"device: {visible_devices()}; processes per training: {nproc}")
    cache = profile.runs[0].config.data.cache_dir
    data_counts = check_data(profile, None if cache is None else Path(cache))
    trained, released = split_releases(profile, weights_root, train_missing)
    if only in (None, "train"):
        if warmup if warmup is not None else profile.comparable:
            estimate(dataclasses.replace(profile, runs=[
                r for r in trained if not methods.entry(r.method).training_free and r.trained_by is None]))
        for run in trained:
            train_stage(run, runs_root, nproc, progress)
    if only in (None, "eval"):
        for run in trained:
            eval_stage(run, runs_root, nproc, progress)
        for run, weights_path in released:
            release_stage(run, weights_path, runs_root, progress)
    if only in (None, "report"):
        run_ids = [r.run_id for r in trained] + [r.released_id for r, _ in released]
        report = report_stage(profile, run_ids, runs_root, reports_root / profile.name, l1, data_counts)
        if not profile.comparable:
            say("this is a smoke-scale run: its numbers are not comparable with the paper's")
        say(f"report: {report.resolve()}")
        return report
    return None
