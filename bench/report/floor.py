"""Where the trained runs stand against the training-free references (the floor).

`levels(rows)`: every run's mean PSNR per evaluation setting (by its eval.masks name), from its
own rows (all its images, whatever their domain): the horizontal lines of the learning curves. `floor_sentence`:
the one sentence a smoke-scale report's banner says about it, computed from those levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from bench import methods
from bench.data.masks import EVAL_SETTINGS

CENTRE = EVAL_SETTINGS[0]


def levels(rows: pd.DataFrame) -> dict[str, dict[str, float]]:
    """run id → {setting name: mean PSNR over its rows of that setting} (settings it has)."""
    found: dict[str, dict[str, float]] = {}
    for setting in EVAL_SETTINGS:
        chosen = rows[(rows["mask_setting"] == setting.kind) & (rows["bucket"] == setting.bucket)]
        for run_id, psnr in chosen.groupby("run_id", sort=False)["psnr"].mean().items():
            found.setdefault(str(run_id), {})[setting.name] = float(psnr)
    return found


def floor_sentence(runs: Sequence[tuple[str, str, bool]], found: Mapping[str, Mapping[str, float]]) -> str | None:
    """One sentence on the centre mask: the best trained run against the weakest and the best
    training-free reference, and the paper's method against the weakest; None without both kinds.

    `runs`: (run id, method, training-free) of each run in the report."""
    def scored(free: bool) -> list[tuple[float, str]]:
        return sorted((found[i][CENTRE.name], m) for i, m, f in runs
                      if f == free and CENTRE.name in found.get(i, {}))

    trained, free = scored(False), scored(True)
    if not trained or not free:
        return None
    (floor, floor_name), (top, top_name), (best, best_name) = free[0], free[-1], trained[-1]

    def versus(value: float, level: float) -> str:
        return f"{abs(value - level):.2f} dB {'above' if value >= level else 'below'}"

    sentence = (f"Centre mask, mean PSNR: the best trained model ({best_name}, {best:.2f} dB) is "
                f"{versus(best, floor)} the weakest training-free reference ({floor_name}, {floor:.2f} dB) "
                f"and {versus(best, top)} the best ({top_name}, {top:.2f} dB)")
    reference = [v for v, m in trained if m == methods.REFERENCE]
    if reference and best_name != methods.REFERENCE:
        sentence += f"; {methods.REFERENCE}, the paper's method, is {versus(max(reference), floor)} the weakest ({max(reference):.2f} dB)"
    return sentence + "."
