"""The training budget of a report's trained runs, read from their configs, and the first
screen's sentence about it.

A run's budget is its steps (train.iterations), batch (train.batch_size), image size (data.size)
and learning-rate rule (method.options.lr when its config sets one, else the method's own
default). `summary(runs)` says whether the trained runs on each dataset share one budget (the
ranking and the paired tests compare runs within a dataset) and words it; runs that were not
trained here (training-free references, released weights, supplied outputs) have no budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # results.py calls summary(): no import at run time
    from bench.report.results import ReportRun


@dataclass(frozen=True)
class Budget:
    steps: int | None
    batch: int | None
    size: int | None
    lr: float | None  # method.options.lr; None: the method's own default (so a value set for one
    # method and left to its default for another are two rules, even where the numbers agree)

    def text(self) -> str:
        rate = "each method's own learning rate" if self.lr is None else f"learning rate {self.lr:g}"
        return f"{self.steps} steps at batch {self.batch}, {self.size}², {rate}"


def of(run: "ReportRun") -> Budget:
    return Budget(run.setting("train.iterations"), run.setting("train.batch_size"), run.setting("data.size"),
                  run.setting("method.options.lr"))


def summary(runs: Sequence["ReportRun"]) -> dict[str, Any] | None:
    """{"sentence": what the budget was, "equal": whether every dataset's trained runs share one
    budget}; None when no run was trained."""
    trained = [r for r in runs if r.trained]
    if not trained:
        return None
    per_dataset: dict[str, set[Budget]] = {}
    for run in trained:
        per_dataset.setdefault(run.dataset, set()).add(of(run))
    if all(len(found) == 1 for found in per_dataset.values()):
        budgets = {next(iter(found)) for found in per_dataset.values()}
        if len(budgets) == 1:
            return {"sentence": f"Trained methods: {next(iter(budgets)).text()} — one budget for all.",
                    "equal": True}
        each = "; ".join(f"{dataset}: {next(iter(found)).text()}" for dataset, found in per_dataset.items())
        return {"sentence": f"Trained methods: one budget per dataset — {each}.", "equal": True}
    groups: dict[Budget, list[str]] = {}
    for run in trained:
        if len(per_dataset[run.dataset]) > 1:  # the datasets whose runs differ
            labels = groups.setdefault(of(run), [])
            label = run.method if len(per_dataset) == 1 else f"{run.method} on {run.dataset}"
            if label not in labels:
                labels.append(label)
    named = "; ".join(f"{', '.join(labels)}: {budget.text()}" for budget, labels in groups.items())
    return {"sentence": f"The trained methods do NOT share one training budget — {named}. Their ranking "
                        "and paired tests are not like for like.", "equal": False}
