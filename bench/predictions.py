"""Score a folder of outputs from any method against an exported test set (bench.testset),
exactly as the evaluator scores ours: `inpaint-bench evaluate --predictions DIR --name NAME
--testset OUT`.

DIR holds one PNG per test image, DIR/<setting>/<id>.png (DIR/<id>.png when the test set has
one setting). Every file is checked before anything is written: a missing output (the count
and the first), a file of the wrong size, one that does not decode, a NAME that is a registered
method or holds path characters, a test set that does not verify; an extra file is a warning.
Each output must be an output of its test image (bench.known_pixels: its known pixels the
truth's, not another setting's output, its holes filled); those that are not are refused in one
line, counted by likely cause (BGR order, a flip, a 16-bit range, a grey image, the wrong
setting, unfilled holes), unless --accept-changed-known scores them anyway, which the rows'
`protocol` column and the method card then say (bench.records.rows.SCORED_ANYWAY). A PNG holds
no NaN or inf, so no supplied output can (only PNG outputs are read).

Scoring is the evaluator's: the truth is quantised as the evaluator quantises its tensor
(bench.metrics.quantize), the supplied 8-bit output fills the holes of that truth (known pixels
from the truth: bench.metrics.composite), and bench.metrics.score_quantized — the step
score_batch ends with — gives the five metrics, written as the evaluator's rows
(bench.evaluate.batch_rows, bench.records.rows). The run folder's manifest records
`provenance: {kind: predictions, name, files: sha256 of the sorted sha256 listing, count}` and
eval/predictions.sha256 the listing itself. How much each output changed the known pixels
(which the composite discards) and the check's verdict are written per image to
eval/known_pixels.csv and summarised in the method card.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import known_pixels, lock, methods, metrics, runs, testset, typed
from bench import config as config_module
from bench.config import Config
from bench.data.images import ImageReadError, read_rgb, to_tensor
from bench.data.masks import EvalSetting
from bench.evaluate import batch_rows, missing_folders, note, remove_unused, row_constants, write_samples
from bench.records import rows
from bench.records.manifest import SUPPLIED_KIND

BATCH = 16
SAMPLES = 8  # composites saved per setting, as eval.samples_to_save's default
KNOWN_COLUMNS = ("mask_setting", "bucket", "image_id", "known_changed_pct", "known_max_abs_diff", "check")
DESCRIPTION = "outputs supplied by the user"
FIRST = 3  # refused files named per cause


class PredictionsError(ValueError):
    """Supplied outputs, a name or a test set that cannot be scored."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class SuppliedOutputs:
    """What the run folder's method card and rows say of a folder of outputs (no networks)."""

    name: str
    digest: str  # sha256 of the sorted listing of the outputs' sha256
    known: str  # how the outputs treated the known pixels
    refused: str | None = None  # the known-pixel check's refusal, scored anyway (--accept-changed-known)

    def parameter_counts(self) -> dict[str, int]:
        return {}

    def departures(self) -> list[str]:
        return []

    def protocol(self) -> dict[str, str]:
        found = {"outputs": DESCRIPTION, "sha256": self.digest, "known pixels": self.known}
        return {**found, rows.SCORED_ANYWAY: self.refused} if self.refused else found


def check_name(name: str) -> str:
    """NAME, unless it holds path characters or is a registered method's name (built-in or
    plugin; in any case): the outputs would be shown as that method."""
    typed.check_name(name, "--name", PredictionsError)
    taken = [m for m in methods.REGISTRY if m.casefold() == name.casefold()]
    if taken:
        raise PredictionsError(f"--name {name!r} is a registered method ({taken[0]}); "
                               "give the supplied outputs their own name")
    return name


def locate(folder: Path, tests: testset.TestSet) -> dict[testset.Entry, Path]:
    """Each test entry's output file; PredictionsError for the missing, a warning for extras."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PredictionsError(f"--predictions {folder}: not a folder")
    nested = [s for s in tests.settings if (folder / s).is_dir()]
    if not nested and len(tests.settings) > 1:
        raise PredictionsError(f"--predictions {folder}: no folder per mask setting ({', '.join(tests.settings)}); "
                               "DIR/<id>.png alone is for a test set of one setting")
    found = {e: (folder / e.setting if nested else folder) / testset.file_name(e.id) for e in tests.entries}
    missing = [path for path in found.values() if not path.is_file()]
    misnamed = [(path, other) for path in missing for other in _same_stem(path)]
    if misnamed:
        path, other = misnamed[0]
        raise PredictionsError(f"--predictions {folder}: {len(misnamed)} of {len(found)} outputs in another format "
                               f"or name: expected PNG named {path.name}, found {other.name} (first: {other}); "
                               "save each output as a PNG named <id>.png")
    if missing:
        raise PredictionsError(f"--predictions {folder}: {len(missing)} of {len(found)} outputs missing "
                               f"(first: {missing[0]})")
    expected = set(found.values())
    extra = sorted(p for p in folder.rglob("*") if p.is_file() and p not in expected)
    if extra:
        warn(f"--predictions {folder}: {len(extra)} file(s) that are no test image's output, ignored "
             f"(first: {extra[0]})")
    return found


def _same_stem(path: Path) -> list[Path]:
    """The files beside a missing output `path` named like it but for the suffix (X.jpg, X.PNG)."""
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.glob(f"{glob.escape(path.stem)}.*") if p.is_file() and p.stem == path.stem)


def read_output(path: Path, size: int) -> np.ndarray:
    """An output as uint8 size×size×3; PredictionsError naming the file otherwise."""
    try:
        image = read_rgb(path)
    except ImageReadError as error:
        raise PredictionsError(str(error)) from None
    if image.size != (size, size):
        raise PredictionsError(f"{path}: {image.size[0]}×{image.size[1]}, the test set's images are {size}×{size}")
    return np.asarray(image, dtype=np.uint8)


def read_hole(path: Path) -> np.ndarray:
    """A test set mask file as a bool H×W hole."""
    return np.asarray(read_rgb(path).convert("L")) > 127


def check_outputs(folder: Path, found: dict[testset.Entry, Path],
                  tests: testset.TestSet) -> tuple[str, list[list[Any]], list[tuple[Path, str]]]:
    """Decode every output (size and format checked) before anything is written; return the
    sha256 listing (sha256sum's format, sorted by path), each image's known-pixel change and
    the outputs that are not outputs of their test image, each with its likely cause
    (bench.known_pixels)."""
    size = int(tests.protocol["size"])
    listing, known, refused = [], {}, []
    by_image: dict[str, list[testset.Entry]] = {}
    for entry in found:
        by_image.setdefault(entry.id, []).append(entry)
    for entries in by_image.values():
        holes = {e.setting: read_hole(e.path(tests.root, "masks")) for e in entries}
        for entry in entries:
            path = found[entry]
            output = read_output(path, size)
            truth, given = (np.asarray(read_rgb(entry.path(tests.root, view)), dtype=np.uint8)
                            for view in ("truth", "input"))
            hole = holes[entry.setting]
            change = np.abs(output.astype(np.int16) - truth)[~hole]
            why = known_pixels.cause(path, output, truth, hole, given,
                                     {s: h for s, h in holes.items() if s != entry.setting})
            known[entry] = [entry.setting, entry.bucket, entry.id,
                            repr(float((change.max(axis=-1) > 0).mean() * 100) if change.size else 0.0),
                            int(change.max()) if change.size else 0, why or "ok"]
            if why:
                refused.append((path, why))
            listing.append(f"{testset.sha256(path.read_bytes())}  {path.relative_to(folder).as_posix()}\n")
    return "".join(sorted(listing, key=lambda line: line[66:])), [known[e] for e in found], refused


def refusal(folder: Path, refused: list[tuple[Path, str]], count: int) -> str:
    """The refused outputs in one line: how many, each cause with its count and first files."""
    causes: dict[str, list[Path]] = {}
    for path, why in refused:
        causes.setdefault(why, []).append(path)
    listed = "; ".join(f"{why}: {len(paths)} (first: {', '.join(map(str, paths[:FIRST]))})"
                       for why, paths in sorted(causes.items(), key=lambda c: -len(c[1])))
    return (f"--predictions {folder}: {len(refused)} of {count} outputs are not outputs of their test image "
            f"({known_pixels.RULE}): {listed}")


def known_summary(known: list[list[Any]]) -> str:
    altered = [k for k in known if k[4] > 0]
    if not altered:
        return f"unchanged in all {len(known)} outputs"
    return (f"changed in {len(altered)} of {len(known)} outputs (max |Δ| {max(k[4] for k in altered)} levels); "
            "the harness composites, so they do not count")


def run_config(tests: testset.TestSet, name: str, run_id: str) -> Config:
    """The evaluation-only run's config: the test set's protocol, the supplied outputs' name."""
    protocol = tests.protocol
    return config_module.from_dict({
        "run": {"id": run_id}, "method": {"name": name},
        "data": {"dataset": protocol["dataset"], "size": protocol["size"]},
        "eval": {"masks": tests.settings, "count": protocol["count"], "mask_seed": protocol["mask_seed"]},
    }, source=str(tests.root / testset.PROTOCOL_FILE))


def score(predictions: Path, name: str, testset_dir: Path, *, runs_root: Path = runs.RUNS_ROOT,
          run_id: str | None = None, accept_changed: bool = False) -> Path:
    """Score the outputs in `predictions` as method `name` against the test set at
    `testset_dir` into a run folder (default RUNS_ROOT/<name>-<dataset>-<size>px-predictions);
    return its rows.csv. Outputs that are not outputs of their test image (bench.known_pixels)
    are refused, nothing written, unless `accept_changed`: then the rows and the method card
    say so."""
    check_name(name)
    tests = testset.read(testset_dir)
    found = locate(Path(predictions), tests)
    listing, known, refused = check_outputs(Path(predictions), found, tests)
    digest = testset.sha256(listing.encode())
    problem = refusal(Path(predictions), refused, len(found)) if refused else None
    if problem and not accept_changed:
        raise PredictionsError(f"{problem}; nothing scored (--accept-changed-known scores them anyway)")
    if problem:
        warn(f"{problem}; scored anyway (--accept-changed-known)")
    outputs = SuppliedOutputs(name, digest, known_summary(known),
                              problem and f"{len(refused)} of {len(found)} outputs (--accept-changed-known)")
    config = run_config(tests, name, run_id or f"{name}-{tests.protocol['dataset']}-"
                                                  f"{tests.protocol['size']}px-predictions")
    provenance = {"kind": SUPPLIED_KIND, "name": name, "files": digest, "count": len(found),
                  "testset": tests.protocol["manifest_sha256"]}
    run_dir = Path(runs_root) / config.run_id
    created = missing_folders(run_dir)
    try:
        with lock.hold(run_dir, note):
            run = runs.open_evaluation_run(run_dir, config, command=runs.command_line(), device="cpu",
                                           checkpoint=Path(predictions), provenance=provenance)
            runs.write_method_card(run, outputs, DESCRIPTION, ())
            runs.write_text(run.predictions_listing, listing)
            lines = io.StringIO()
            csv.writer(lines, lineterminator="\n").writerows([KNOWN_COLUMNS, *known])
            runs.write_text(run.known_pixels_file, lines.getvalue())
            write_rows(run, tests, found, config, outputs)
    except BaseException:
        remove_unused(created)
        raise
    anyway = f"; {rows.SCORED_ANYWAY}: {outputs.refused}" if outputs.refused else ""
    print(f"known pixels: {outputs.known}{anyway} (per image: {run.known_pixels_file})")
    return run.rows_file


def write_rows(run: runs.RunFolder, tests: testset.TestSet, found: dict[testset.Entry, Path],
               config: Config, outputs: SuppliedOutputs) -> None:
    """The evaluator's rows for every entry not scored yet (a rerun resumes)."""
    checkpoint = f"predictions:{outputs.digest}"
    done = rows.scored_images(run, outputs.digest)
    fixed = row_constants(config, outputs, checkpoint, outputs.digest)
    writer = rows.Writer(run.rows_file)
    size = int(tests.protocol["size"])
    rows.record_plan(run, outputs.digest, tests.settings, tests.per_setting, tests.protocol["test_split"],
                     config.eval.mask_seed, name=checkpoint, assumed_seed=config.eval.mask_seed)
    for name in tests.settings:
        setting = EvalSetting(name)
        entries = tests.of_setting(name)
        saved = {e.id for e in entries[:SAMPLES]}
        todo = [e for e in entries if e.id not in done.get((setting.kind, setting.bucket), set())]
        for start in range(0, len(todo), BATCH):
            batch = todo[start:start + BATCH]
            truth = torch.stack([to_tensor(read_rgb(e.path(tests.root, "truth"))) for e in batch])
            holes = torch.from_numpy(np.stack([read_hole(e.path(tests.root, "masks")) for e in batch]))
            holes = holes.float()[:, None]
            supplied = torch.from_numpy(np.stack([read_output(found[e], size) for e in batch]))
            quantised = metrics.quantize(truth)  # the evaluator's truth
            composite = metrics.composite(quantised.double(), holes.permute(0, 2, 3, 1).double(),
                                          supplied.double()).to(torch.uint8)
            scores = metrics.score_quantized(quantised, composite)
            writer.write(batch_rows(fixed, {"mask": holes, "image_id": [e.id for e in batch],
                                            "mask_id": [e.mask_id for e in batch],
                                            "domain": [e.domain for e in batch]}, scores, setting))
            keep = [k for k, e in enumerate(batch) if e.id in saved]
            if keep:
                views = {"truth": quantised, "input": metrics.quantize(truth * (1 - holes) + holes),
                         "output": composite}
                write_samples(run.samples_dir / setting.folder, [batch[k].id for k in keep],
                              {view: array[keep].numpy() for view, array in views.items()})


# --- command line ------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    """`evaluate --predictions DIR --name NAME --testset OUT` (bench.evaluate.add_arguments)."""
    if args.name is None or args.testset is None:
        raise PredictionsError("--predictions needs --name NAME and --testset OUT (from `testset export`)")
    if args.target is not None or args.official is not None or args.foreign:
        raise PredictionsError("--predictions scores a folder of outputs: give no run folder, config, "
                               "--official or --foreign")
    scored = score(args.predictions, args.name, args.testset, runs_root=args.runs_root, run_id=args.run_id,
                   accept_changed=args.accept_changed_known)
    print(f"rows in {scored}")
    return 0
