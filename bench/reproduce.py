"""`inpaint-bench reproduce PROFILE`: plan the runs of a profile, then train, evaluate, report.

Stages run in order and each is idempotent: a finished training is skipped, an interrupted one
resumes from its last checkpoint, evaluation skips the rows it already wrote, and the tables and
report are rebuilt from the rows. `--only train|eval|report` runs one stage; `--datasets` and
`--methods` narrow the plan. With more than one GPU visible (or `--nproc N`) each training and
each evaluation runs under torchrun. Before training, the paper profiles check the data against Table 1 and print an
estimate of the training time from a short measured warm-up.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from bench import config as config_module
from bench import metrics, profiles, runs
from bench.data import datasets
from bench.method import MethodSpec

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
        if dataset != "sample" and root is None:
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
    from bench import methods

    total = 0.0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for run in profile.runs:
        c = run.config
        size, batch = c.data.size, c.train.batch_size
        method = methods.create(c.method.name, MethodSpec(c.data.size, c.train.iterations, c.data.dataset,
                                                          c.train.seed, dict(c.method.options))).to(device)
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


def train_stage(run: profiles.PlannedRun, runs_root: Path, nproc: int, progress: bool) -> None:
    run_dir = runs_root / run.run_id
    folder = runs.RunFolder(run_dir)
    if folder.manifest_file.is_file() and folder.read_manifest().get("status") == "finished":
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
    if not (run_dir / "config.yaml").is_file():
        raise ReproduceError(f"evaluate {run.run_id}: not trained yet ({run_dir} missing); run the train stage")
    say(f"evaluate {run.run_id}")
    if nproc > 1:
        torchrun("evaluate", [str(run_dir)], nproc, progress, f"evaluating {run.run_id}")
        return
    evaluate(run_dir, progress=progress)


def summary(rows: pd.DataFrame, l1: str) -> str:
    """A short terminal table: centre-mask means per dataset/domain and method."""
    centre = rows[rows["mask_setting"] == "center"]
    if centre.empty:
        return "(no centre-mask rows)"
    table = centre.groupby(["dataset", "domain", "method"])[[l1, "psnr", "msssim_pct"]].mean().round(2)
    return table.to_string()


def report_stage(profile: profiles.Profile, runs_root: Path, out_dir: Path, l1: str,
                 data_counts: dict[str, dict[str, int]] | None) -> Path:
    from bench import tables
    from bench.report.build import build_report

    run_dirs = [runs_root / r.run_id for r in profile.runs if (runs_root / r.run_id / "eval" / "rows.csv").is_file()]
    if not run_dirs:
        raise ReproduceError(f"no evaluated runs of profile {profile.name!r} under {runs_root}; run the eval stage")
    rows = tables.load_rows(run_dirs)
    tables.write_tables(tables.build_tables(rows, tables.load_paper(), l1=l1, data_counts=data_counts),
                        out_dir / "tables")
    title = f"inpaint-bench — {profile.name}: {profile.description}"
    report = build_report(run_dirs, out_dir, l1=l1, title=title, data_counts=data_counts)
    print(summary(rows, l1))
    return report


def reproduce(profile_name: str, *, data_root: Path | None = None, datasets_filter: list[str] | None = None,
              methods_filter: list[str] | None = None, only: str | None = None, nproc: int | None = None,
              overrides: list[str] | None = None, runs_root: Path = runs.RUNS_ROOT,
              reports_root: Path = REPORTS_ROOT, l1: str = metrics.DEFAULT_L1, progress: bool = True,
              warmup: bool | None = None) -> Path | None:
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
    if only in (None, "train"):
        if warmup if warmup is not None else profile.comparable:
            estimate(profile)
        for run in profile.runs:
            train_stage(run, runs_root, nproc, progress)
    if only in (None, "eval"):
        for run in profile.runs:
            eval_stage(run, runs_root, nproc, progress)
    if only in (None, "report"):
        report = report_stage(profile, runs_root, reports_root / profile.name, l1, data_counts)
        if not profile.comparable:
            say("this is a smoke-scale run: its numbers are not comparable with the paper's")
        say(f"report: {report.resolve()}")
        return report
    return None
