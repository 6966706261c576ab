"""Is a supplied output an output of its test image? Its known pixels must be the truth's and its
holes filled; where not, the most likely cause it can tell (bench.predictions refuses such an
output before anything is scored, unless told to score it anyway).

A known pixel counts as changed when a channel differs from the truth by more than TOLERANCE
(one 8-bit level: the harness's own quantisation moves no pixel further), and an output is
refused when more than SHARE of its known pixels changed. So a network's raw output that was not
pasted over its input, or a correct output re-encoded as JPEG, is refused too, and named as
such: the harness composites, so its known pixels would not count, but a user must say so
(`--accept-changed-known`).

The causes are told with a looser rule (LOOSE_TOLERANCE levels, LOOSE_SHARE of the known
pixels), so that a lossy copy of a flipped or BGR output is still named for its flip or channel
order. Measured on `testset export sample` (24 images × 7 settings at 64², 4 settings at 256²;
Telea fills, re-encoded with Pillow): by more than 1 level JPEG quality 95 changes 10–91 % of
the known pixels; by more than 32 levels quality 95 at most 1.2 %, quality 75 at most 3.6 % (64²)
and 1.5 % (256²), quality 50 up to 8.2 % at 64². A vertical flip changes 18–83 % of them by more
than 32 levels; BGR order, a grey image and a 16-bit file read as 8-bit up to 100 % (a grey
image's BGR or grey version is itself: it changes nothing and passes).

An output of another setting of the same image keeps most known pixels: its changed ones are its
fill, and they lie in that other setting's hole, while its own hole outside that one holds the
truth (what scores it too high). So an output whose changed known pixels (at least LINE_UP_MIN
of them) lie for LINE_UP or more in another setting's hole, and whose hole pixels outside it are
for more than HOLE_TRUTH within one level of the truth, is refused as filed under the wrong
setting. Measured: outputs filed under another setting have 100 % of their changed known pixels
there (489 of 504 at 64² with over 0.5 % changed), correct outputs re-encoded as JPEG up to 95 %
(hence the second condition, which no fill meets).

Holes count as unfilled when, of the hole pixels where the truth differs from the exported input
(by more than one level), more than UNFILLED_SHARE are the input's own value (within one level):
the input file itself, never an assumed hole value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

TOLERANCE = 1  # levels of 255: a known pixel differing by more has changed
SHARE = 0.01  # of the known pixels changed: more is refused
LOOSE_TOLERANCE, LOOSE_SHARE = 32, 0.05  # the rule a lossy copy of the cause still meets
LINE_UP = 0.99  # of the changed known pixels inside another setting's hole: filed under it
LINE_UP_MIN = 0.005  # of the known pixels changed before the line-up is judged
HOLE_TRUTH = 0.9  # of its hole pixels outside that other hole within one level of the truth
UNFILLED_SHARE = 0.5  # of the hole pixels left at the input's value: the holes were not filled
RULE = (f"each must keep its known pixels (at most {SHARE:.0%} off by more than {TOLERANCE} level), "
        "be of its own setting and fill its holes")


def wrong_setting(setting: str) -> str:
    return f"filed under the wrong setting (an output for {setting}'s mask)"


def _apart(a: np.ndarray, b: np.ndarray, levels: int) -> np.ndarray:
    """H×W: pixels where a channel of `a` and `b` differs by more than `levels`."""
    return (np.abs(a.astype(np.int16) - b.astype(np.int16)) > levels).any(axis=-1)


def _keeps(image: np.ndarray, truth: np.ndarray, known: np.ndarray, levels: int = TOLERANCE,
           share: float = SHARE) -> bool:
    """At most `share` of the `known` pixels changed (by more than `levels`)."""
    return not known.any() or float(_apart(image, truth, levels)[known].mean()) <= share


def _loosely_keeps(image: np.ndarray, truth: np.ndarray, known: np.ndarray) -> bool:
    return _keeps(image, truth, known, LOOSE_TOLERANCE, LOOSE_SHARE)


def _raw(path: Path) -> np.ndarray | None:
    """The file as stored: its bit depth and channels (None if OpenCV cannot read it)."""
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _grey(image: np.ndarray, raw: np.ndarray | None) -> bool:
    return (raw is not None and raw.ndim == 2) or bool((image == image[..., :1]).all())


def _colour(truth: np.ndarray, known: np.ndarray) -> bool:
    """More than SHARE of the known pixels have channels more than one level apart."""
    spread = truth.max(axis=-1).astype(np.int16) - truth.min(axis=-1)
    return float((spread > 1)[known].mean()) > SHARE


def cause(path: Path, output: np.ndarray, truth: np.ndarray, hole: np.ndarray, given: np.ndarray,
          other_holes: Mapping[str, np.ndarray]) -> str | None:
    """Why `output` (uint8 H×W×3 as scored, read from `path`) is not an output of `truth` under
    `hole` (bool H×W), given the exported input `given` and the same image's holes under the
    test set's other settings; None when it is one."""
    known = ~hole
    changed = _apart(output, truth, TOLERANCE) & known
    if changed.sum() >= max(1, LINE_UP_MIN * known.sum()):
        exact = ~_apart(output, truth, 1)
        for setting, other in other_holes.items():
            truth_there = hole & ~other  # where an output for `setting` holds the truth
            if ((changed & other).sum() >= LINE_UP * changed.sum() and truth_there.any()
                    and exact[truth_there].mean() > HOLE_TRUTH):
                return wrong_setting(setting)
    if not _keeps(output, truth, known):
        return _changed_cause(path, output, truth, known, other_holes)
    differs = hole & _apart(truth, given, 1)
    if differs.any():
        left = ~_apart(output, given, 1)[differs]
        if left.mean() > UNFILLED_SHARE:
            return "holes left unfilled (the hole pixels are the exported input's)"
    return None


def _changed_cause(path: Path, output: np.ndarray, truth: np.ndarray, known: np.ndarray,
                   other_holes: Mapping[str, np.ndarray]) -> str:
    """The likely cause of known pixels changed beyond SHARE: a channel order or flip that makes
    them match exactly, else a lossy copy (of the output, or of a BGR or flipped one: the loose
    rule), else another setting's."""
    raw = _raw(path)
    if raw is not None and raw.dtype == np.uint16 and raw.max() <= 255:
        return "a 16-bit file holding 0–255 values (save 8-bit, or scale by 257)"
    if _grey(output, raw) and _colour(truth, known):
        return "grey while the truth is colour"
    lossy = ("small changes all over its known pixels (a lossy copy such as JPEG, or a raw network output "
             "not pasted over its input)")
    # exact causes first, then a lossy copy (of the output itself, else of a BGR or flipped one)
    for keeps in (_keeps, _loosely_keeps):
        if keeps is _loosely_keeps and keeps(output, truth, known):
            return lossy
        if keeps(output[..., ::-1], truth, known):
            return "channels in BGR order (swapping red and blue makes the known pixels match)"
        for flip, axes in (("vertically", (0,)), ("horizontally", (1,)), ("both ways", (0, 1))):
            if keeps(np.flip(output, axes), truth, known):
                return f"flipped {flip} (flipping it back makes the known pixels match)"
    for setting, other in other_holes.items():
        if _loosely_keeps(output, truth, ~other):
            return wrong_setting(setting)
    return "known pixels changed, no cause found"
