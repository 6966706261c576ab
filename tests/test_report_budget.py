"""The report's first screen says what the trained runs' budget was (steps, batch, size, learning-rate
rule, from their configs), and says plainly when they do not share one: then the ranking and the
paired-test sentences say they are not like for like."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from bench.report import build_report
from bench.report.headline import UNEQUAL
from bench.report.results import collect
from bench.runs import TRAINING_FREE_PROVENANCE, RunFolder

N_BOOT = 50


def set_budget(run: Path, steps: int, batch: int, size: int = 64, lr: float | None = None) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"].update(iterations=steps, batch_size=batch)
    config["data"]["size"] = size
    config["method"]["options"] = {} if lr is None else {"lr": lr}
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def quick_runs(root: Path, make_run) -> dict[str, Path]:
    """Three trained runs at 40 steps, batch 4, 64², and a training-free one (its config's numbers
    are no budget: it trains nothing)."""
    runs = {method: make_run(root, f"quick-{method}", method, "sample", quality=q, profile="quick",
                           center_only=True, images=2, samples=1)
            for method, q in (("srpnet", 0.8), ("pennet", 0.5), ("glcic", -0.5), ("mean-fill", 1.0))}
    for method, run in runs.items():
        set_budget(run, 40, 4)
    set_budget(runs["mean-fill"], 1, 1, lr=9.0)
    RunFolder(runs["mean-fill"]).update_manifest(provenance=dict(TRAINING_FREE_PROVENANCE))
    return runs


def first_screen(html: str) -> str:
    """The page above its navigation: title, banners and the budget line."""
    return html[html.index("<h1>"):html.index("<nav>")]


def test_one_budget_for_all_is_said_on_the_first_screen(tmp_path, run_factory):
    runs = quick_runs(tmp_path / "runs", run_factory)
    html = build_report(list(runs.values()), tmp_path / "report", n_boot=N_BOOT).read_text()
    said = ("Trained methods: 40 steps at batch 4, 64², each method&#39;s own learning rate — one budget "
            "for all.")
    assert f'<div class="budget" data-budget="equal">{said}</div>' in first_screen(html)
    headline = json.loads((tmp_path / "report" / "results.json").read_text())["headline"]
    assert headline and not any(UNEQUAL in sentence for sentence in headline)


def test_unequal_budgets_are_named_and_nothing_is_ranked_as_like_for_like(tmp_path, run_factory):
    runs = quick_runs(tmp_path / "runs", run_factory)
    set_budget(runs["srpnet"], 300, 8, lr=1e-3)
    html = build_report(list(runs.values()), tmp_path / "report", n_boot=N_BOOT).read_text()
    screen = first_screen(html)
    budget = re.search(r'<div class="banner" data-budget="unequal">(.*?)</div>', screen)
    assert budget, "no unequal-budget banner on the first screen"
    assert budget.group(1) == (
        "The trained methods do NOT share one training budget — srpnet: 300 steps at batch 8, 64², "
        "learning rate 0.001; pennet, glcic: 40 steps at batch 4, 64², each method&#39;s own learning "
        "rate. Their ranking and paired tests are not like for like.")
    headline = json.loads((tmp_path / "report" / "results.json").read_text())["headline"]
    ranking = next(s for s in headline if s.startswith("By mean PSNR"))
    paired = next(s for s in headline if s.startswith("Paired on the same images"))
    assert ranking.endswith(UNEQUAL) and paired.endswith(UNEQUAL)
    set_budget(runs["srpnet"], 40, 4, size=128)  # size alone differs: still not one budget
    folder = collect(list(runs.values()), tmp_path / "report2", n_boot=N_BOOT)
    budget = json.loads(folder.results_file.read_text())["budget"]
    assert not budget["equal"] and "srpnet: 40 steps at batch 4, 128²" in budget["sentence"]


def test_each_dataset_with_its_own_single_budget_is_like_for_like(tmp_path, run_factory):
    root = tmp_path / "runs"
    runs = [run_factory(root, f"{m}-{d}", m, d, center_only=True, images=2, samples=1)
            for m in ("srpnet", "pennet") for d in ("facade", "sample")]
    for run in runs:
        set_budget(run, 200 if "facade" in run.name else 40, 4)
    results = json.loads(collect(runs, tmp_path / "report", n_boot=N_BOOT).results_file.read_text())
    assert results["budget"] == {"equal": True, "sentence": (
        "Trained methods: one budget per dataset — facade: 200 steps at batch 4, 64², each method's own "
        "learning rate; sample: 40 steps at batch 4, 64², each method's own learning rate.")}
    assert not any(UNEQUAL in sentence for sentence in results["headline"])
