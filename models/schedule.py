"""PEN-Net's per-dataset training settings (official configs/*.json) and its step LR schedule.

The official schedule is lr = base · 0.1^(min(it, niter_steady) // niter) with it counted from 1.
A run here has its own iteration budget, so both milestones are scaled by
budget / official iterations: a 1k-iteration DTD run decays at 303, 606 and 909 as the official
330k-iteration run does at 100k, 200k and 300k.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

DECAY = 0.1


@dataclass(frozen=True)
class PenNetSettings:
    gan_type: str
    iterations: int
    niter: int
    niter_steady: int


PENNET_SETTINGS = {
    "celeba-hq": PenNetSettings("hinge", 330_000, 100_000, 10_000),
    "places2": PenNetSettings("hinge", 1_000_000, 100_000, 150_000),
    "dtd": PenNetSettings("nsgan", 330_000, 100_000, 310_000),
    "facade": PenNetSettings("nsgan", 200_000, 50_000, 10_000),
}
# The bundled sample set and `folder` (the user's own images) have no official config: they take
# facade's (nsgan, constant LR).
PENNET_SETTINGS["sample"] = PENNET_SETTINGS["facade"]
PENNET_SETTINGS["folder"] = PENNET_SETTINGS["facade"]


def settings_for(dataset: str) -> PenNetSettings:
    try:
        return PENNET_SETTINGS[dataset]
    except KeyError:
        raise ValueError(
            f"no PEN-Net settings for dataset {dataset!r}; known: {', '.join(PENNET_SETTINGS)}"
        ) from None


def learning_rate(base: float, step: int, budget: int, settings: PenNetSettings) -> float:
    """LR at 0-based `step` of a `budget`-iteration run, milestones scaled to the budget."""
    # departure: the LR milestones of PEN-Net's per-dataset config are scaled by the run's iteration budget over the official iteration count.
    scale = Fraction(budget, settings.iterations)
    iteration = step + 1
    decays = min(iteration, settings.niter_steady * scale) // (settings.niter * scale)
    return base * DECAY ** int(decays)
