"""Divergence: the signs that a run has stopped learning, checked while it trains.

Three signals, each with its threshold defined here (measured; docs/reliability.md):
- `loss`: a watched logged loss (each logged value is the mean of `train.log_every` steps) over
  LOSS_FACTOR × the median of its previous LOSS_WINDOW logged values, once it has that many;
  the watched losses are the method's `Method.watched_losses` (its reconstruction terms: the
  adversarial ones swing by design), every logged value where a method names none;
- `validation`: a validation setting's mean PSNR more than PSNR_DROP_DB under the run's best so
  far at that setting;
- `collapse`: at validation, the output no longer depends on the input: `spread`, the hole
  pixels' standard deviation across the validation images (grey levels, 0–255), under
  SPREAD_FLOOR at a setting where an earlier validation of the run was over it ("no longer":
  a network that starts from a near-constant output, as a small one can, is not flagged).

`Watch` holds a run's history (seeded from its own losses.csv and validation.csv when it
resumes, so a resumed run sees what an uninterrupted one would) and returns the signals of each
logged step and each validation, each at its onset (a loss or setting that stays over its
threshold is reported at the first check it fails, again only after one it passes); the trainer
reports them (bench.records.divergence) and, with `train.stop_on_divergence`, stops at the first.

What the thresholds were measured on (64², the sample data, CPU): the quick profile's SRPNet
recipe (lr 1e-3, batch 8, seed 0, log every 10 steps, validation of the 24 test images every 20
steps) run on to step 460; it learns normally to step 350 and diverges between 350 and 360 (the
series are in tests/test_divergence.py); and the test suite's toy method (tests/toy_method.py,
40 steps at 64², validation every 4). See each constant.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

# Loss jump. Measured on SRPNet: up to step 350 no logged value (g_hole, g_valid, g_pyramid,
# g_total, g_adversarial, d_loss) was over 1.05× the median of its previous 10; at step 360
# g_valid was 2.08× and g_hole 1.72×, at 370 4.04× and 3.07×. The toy (40 steps, batch 4): l1 up
# to 1.18×, hole_l1 (the hole pixels of 4 images, the noisiest) up to 1.66×.
LOSS_WINDOW = 10  # logged values in the running median, and the warm-up before any check
LOSS_FACTOR = 2.0

# Validation drop. Measured: up to step 340 SRPNet's PSNR was never more than 1.74 dB (centre) /
# 0.68 dB (irregular_3) under its best so far; the toy's (lr 1e-2) swings 3.5 dB; at SRPNet's step
# 360 it was 9.44 / 9.23 dB under (14.16 / 11.97 dB, and so on to 460).
PSNR_DROP_DB = 5.0

# Collapse. Measured on SRPNet's checkpoints: `spread` 45.4 / 38.4 grey levels (centre /
# irregular_3) at step 100, 49.2 / 43.1 at 200, 62.8 / 52.3 at 300, exactly 0 at 400 and 460
# (one output for every image). The toy starts near-constant (0.58 at its step 4, then over
# 1.4): hence "no longer", a setting must have been over the floor before.
SPREAD_FLOOR = 1.0

SIGNALS = ("loss", "validation", "collapse")


@dataclass(frozen=True)
class Signal:
    """One sign of divergence: at `step`, `name` (a loss or a validation setting) was `value`
    against `reference` (the running median, the best PSNR, the floor)."""

    step: int
    signal: str  # one of SIGNALS
    name: str
    value: float
    reference: float

    @property
    def message(self) -> str:
        """One sentence with the numbers."""
        if self.signal == "loss":
            return (f"loss {self.name} {self.value:.4g} is {self.value / self.reference:.1f}× the "
                    f"median {self.reference:.4g} of its last {LOSS_WINDOW} logged values "
                    f"(threshold {LOSS_FACTOR:g}×)")
        if self.signal == "validation":
            return (f"validation {self.name} PSNR {self.value:.2f} dB is {self.reference - self.value:.2f} dB "
                    f"under the run's best {self.reference:.2f} dB (threshold {PSNR_DROP_DB:g} dB)")
        return (f"output collapsed: the {self.name} predictions vary by {self.value:.3g} grey levels "
                f"across the validation images (floor {self.reference:g}): they no longer depend on the input")


def spread(composites: torch.Tensor, holes: torch.Tensor) -> float:
    """The mean, over the pixels that are a hole in at least two images, of the standard
    deviation across those images of the prediction there, in grey levels (0–255).

    `composites` N3HW in [-1, 1] (the prediction in the holes), `holes` N1HW (1: hole)."""
    composites, holes = composites.double(), holes.double()
    count = holes.sum(dim=0)
    shared = count >= 2
    if not shared.any():
        return float("nan")
    mean = (composites * holes).sum(dim=0) / count.clamp(min=1)
    variance = ((composites - mean) ** 2 * holes).sum(dim=0) / (count - 1).clamp(min=1)
    std = variance.sqrt().mean(dim=0)  # over the colour channels
    return float(std[shared[0]].mean()) * 127.5


class Watch:
    """One run's divergence checks; `losses` and `validation` return the new signals."""

    def __init__(self, watched: Iterable[str] | None) -> None:
        self.watched = None if watched is None else frozenset(watched)
        self.history: dict[str, list[float]] = {}
        self.best: dict[str, float] = {}  # setting → best PSNR so far
        self.varied: set[str] = set()  # settings where the spread has been over the floor
        self.failing: set[tuple[str, str]] = set()  # (signal, name) failing at its last check

    def _onset(self, signal: str, name: str, fails: bool) -> bool:
        """Whether (`signal`, `name`) fails now and passed at its previous check."""
        key = (signal, name)
        started = fails and key not in self.failing
        if fails:
            self.failing.add(key)
        else:
            self.failing.discard(key)
        return started

    def losses(self, step: int, means: Mapping[str, float]) -> list[Signal]:
        """The loss signals of one logged step (`means`: each logged value)."""
        found = []
        for name, value in means.items():
            if self.watched is not None and name not in self.watched:
                continue
            recent = self.history.setdefault(name, [])
            if len(recent) >= LOSS_WINDOW:
                median = statistics.median(recent[-LOSS_WINDOW:])
                if self._onset("loss", name, median > 0 and value > LOSS_FACTOR * median):
                    found.append(Signal(step, "loss", name, value, median))
            recent.append(value)
        return found

    def validation(self, step: int, rows: Iterable[Mapping[str, object]]) -> list[Signal]:
        """The validation and collapse signals of one validation (bench.validation's rows)."""
        found = []
        for row in rows:
            setting, psnr = str(row["setting"]), float(row["psnr"])
            best = self.best.get(setting)
            if self._onset("validation", setting, best is not None and psnr < best - PSNR_DROP_DB):
                found.append(Signal(step, "validation", setting, psnr, best))
            self.best[setting] = psnr if best is None else max(best, psnr)
            measured = float(row["spread"])
            if self._onset("collapse", setting, measured < SPREAD_FLOOR and setting in self.varied):
                found.append(Signal(step, "collapse", setting, measured, SPREAD_FLOOR))
            if measured >= SPREAD_FLOOR:
                self.varied.add(setting)
        return found
