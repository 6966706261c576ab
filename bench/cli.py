"""The command line: `inpaint-bench …` and `python -m bench …`.

Every subcommand has --help. Errors print one line naming what is wrong (no traceback) unless
--debug is given.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help_text: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand: its help, its arguments and the function that runs it."""
    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (help_text, arguments, run)
        return run
    return register


def _folder(text: str) -> Path:
    """An output folder: absent (it will be made) or a folder, with no file on the way to it."""
    path = Path(text)
    for step in (path, *path.parents):
        if step.exists():
            if not step.is_dir():
                raise argparse.ArgumentTypeError(f"{step} is a file, not a folder" if step == path else
                                                 f"{text}: {step} is a file, not a folder")
            return path
    return path


# --- data -----------------------------------------------------------------------------------
# The registry's dataset names (bench.data.datasets.NAMES, which imports torch: --help must not;
# tests/test_cli.py checks this line against the registry).
DATASET_HELP = "dtd, facade, celeba-hq, places2, folder or sample"


def _cache_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, help="where split lists live (default: the checkout's results/cache)")


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="count each split's images against the paper's Table 1 (folder: "
                           "against its saved split)")
    check.add_argument("dataset", help=DATASET_HELP)
    check.add_argument("--data-root", type=Path, help="the dataset's folder")
    _cache_dir_argument(check)
    check.add_argument("--verify", action="store_true", help="decode every listed image (a progress bar shows it)")


@command("data", "inspect datasets (data check DATASET --data-root DIR)", _data_arguments)
def _data(args: argparse.Namespace) -> int:
    from bench.data.datasets import REAL_DATASETS, check_dataset, split_drift

    report = check_dataset(args.dataset, args.data_root, args.cache_dir, verify=args.verify)
    ok = True
    for row in report:
        status = "ok" if row["found"] == row["expected"] and not row["missing"] else "MISMATCH"
        status += f", {len(row['corrupt'])} CORRUPT" if row["corrupt"] else ""
        ok &= status == "ok"
        print(f"{row['dataset']:10s} {row['split']:5s} found {row['found']:>9,d}  expected {row['expected']:>9,d} "
              f"({row['basis']})  {status}")
        for kind in ("missing", "corrupt"):
            for name in row[kind][:10]:
                print(f"  {kind}: {name}")
            if len(row[kind]) > 10:
                print(f"  … and {len(row[kind]) - 10} more {kind}")
    if args.dataset in REAL_DATASETS:
        drift = split_drift(args.dataset, args.data_root, args.cache_dir)
        ok &= drift is None
        print(drift or "the saved split lists name exactly the folder's images")
        if not args.verify:
            print("images were counted, not decoded: --verify decodes each")
    return 0 if ok else 1


# --- weights --------------------------------------------------------------------------------
def _weights_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inspect = sub.add_parser("inspect", help="what released weights a file (or release folder) holds")
    inspect.add_argument("path", type=Path, help="a released file, or a release folder (PIC-Net: E + G)")
    inspect.add_argument("--method", action="append", help="only this method (repeatable)")
    check = sub.add_parser("check", help="found / missing / sha256 of every release under a weights folder")
    check.add_argument("--weights-root", type=Path, required=True, help="WEIGHTS_ROOT/<release name>/<files>")
    check.add_argument("--method", action="append", help="only this method's releases (repeatable)")


@command("weights", "the authors' released weights (weights inspect FILE | weights check --weights-root DIR)",
         _weights_arguments)
def _weights(args: argparse.Namespace) -> int:
    from bench import weights

    if args.action == "inspect":
        print("\n".join(weights.inspect_path(args.path, args.method)))
        return 0
    ok = True
    for row in weights.check_releases(args.weights_root, args.method):
        ok &= row["status"] == "ok"
        print(f"{row['release']:26s} {row['status']}")
        for name, matches in row["files"].items():
            found = [f"found {path.name}  sha256 {digest}" for path, digest in matches]
            print(f"  {name:36s} " + ("; ".join(found) or "missing")
                  + (" (several match: keep one)" if len(matches) > 1 else ""))
        if row["status"] == "missing":
            print(f"  download: {row['source']}")
        if row["error"]:
            print(f"  {row['error']}")
    return 0 if ok else 1


# --- masks ----------------------------------------------------------------------------------
def _masks_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = sub.add_parser("make", help="write a fixed irregular test mask set (PNG + manifest)")
    make.add_argument("out", type=_folder, help="folder to write (kept if it already holds the same set)")
    make.add_argument("--size", type=int, default=256, help="mask side in pixels (default 256)")
    make.add_argument("--count", type=int, default=2000, help="masks per bucket (default 2000)")
    make.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    make.add_argument("--sets", type=lambda s: tuple(s.split(",")), default=("irregular",), metavar="SET,…",
                      help="irregular (the six buckets, the default) and/or mask families, e.g. lama-thick-256 "
                      "(written at the family's own size)")


    imports = sub.add_parser("import", help="published mask files as a checksummed mask set (data.mask_dir)")
    imports.add_argument("kind", choices=("nvidia", "mat"), help="nvidia: the NVIDIA irregular test set "
                         "(12,000 PNGs, CC BY-NC-SA 4.0); mat: MAT's released evaluation masks")
    imports.add_argument("dir", type=Path, help="the unpacked files")
    imports.add_argument("--out", type=_folder, required=True, help="folder to write the mask set to")
    imports.add_argument("--setting", help="mat: the setting the masks are (mat-small-512 or mat-large-512)")
    imports.add_argument("--count", type=int, help="mat: the number of test images (one mask each)")


@command("masks", "make or import fixed test masks (masks make OUT; masks import KIND DIR --out OUT)",
         _masks_arguments)
def _masks(args: argparse.Namespace) -> int:
    from bench.data import mask_import
    from bench.data.masks import MaskError, make_mask_set

    if args.action == "make":
        manifest = make_mask_set(args.out, args.size, args.count, args.seed, args.sets)
    elif args.kind == "nvidia":
        manifest, outside = mask_import.import_nvidia(args.dir, args.out)
        print(f"bucket by index (file k in bucket k // 2000), licence {mask_import.NVIDIA_LICENCE}; "
              f"{outside} mask(s) measure outside their index's bucket (ratios in {manifest.name})")
    else:
        if args.setting is None or args.count is None:
            raise MaskError("masks import mat needs --setting (mat-small-512 or mat-large-512) and --count N")
        manifest = mask_import.import_mat(args.dir, args.out, args.setting, args.count)
    print(f"wrote {manifest}")
    return 0


# --- config / train / evaluate --------------------------------------------------------------
RUN_EXAMPLE = Path(__file__).parent / "configs" / "examples" / "run.yaml"


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("example", help="print a commented run config to start from (config example > run.yaml)")


@command("config", "a run config to start from (config example > run.yaml)", _config_arguments)
def _config(args: argparse.Namespace) -> int:
    print(RUN_EXAMPLE.read_text(), end="")
    return 0


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from bench import runs

    parser.add_argument("config", type=Path, help="run config (YAML)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted overrides, e.g. train.iterations=10")
    parser.add_argument("--run-id", help="the run's id (default: run.id or one derived)")
    parser.add_argument("--data-root", type=Path, help="the dataset's folder (the same as data.root=DIR)")
    parser.add_argument("--runs-root", type=Path, default=runs.RUNS_ROOT,
                        help=f"where run folders live (default {runs.RUNS_ROOT})")
    parser.add_argument("--run-dir", type=Path, help="the run folder itself (overrides the two above)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


@command("train", "train one run from a config YAML (resumes an unfinished run)", _train_arguments)
def _train(args: argparse.Namespace) -> int:
    from bench import train

    return train.run(args)


def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    from bench import runs

    parser.add_argument("target", type=Path, nargs="?",
                        help="a run folder, or a config YAML (with --official); none with --predictions")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted overrides (a run folder accepts eval.* and train.device)")
    parser.add_argument("--checkpoint", help="last (default: the last the run's manifest recorded), "
                        "a step number or a checkpoint file")
    parser.add_argument("--foreign", action="store_true",
                        help="with --checkpoint: score a checkpoint of another run (refused without it), "
                        "labelled foreign in the rows and the report")
    parser.add_argument("--official", help="released weights to evaluate: a file, a release folder, "
                        "or a release name under --weights-root (see `weights check`)")
    parser.add_argument("--weights-root", type=Path, help="the released weights' folder (config weights.root)")
    parser.add_argument("--run-id", help="run id for an official evaluation (default: derived)")
    parser.add_argument("--data-root", type=Path, help="with a config: the dataset's folder (= data.root=DIR)")
    parser.add_argument("--runs-root", type=Path, default=runs.RUNS_ROOT,
                        help=f"where run folders live (default {runs.RUNS_ROOT})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--predictions", type=Path, metavar="DIR",
                        help="score a folder of outputs (DIR/<setting>/<id>.png) against --testset")
    parser.add_argument("--name", help="with --predictions: the method name the outputs are shown under")
    parser.add_argument("--testset", type=Path, metavar="OUT", help="with --predictions: a `testset export` folder")
    parser.add_argument("--accept-changed-known", action="store_true",
                        help="with --predictions: score outputs the known-pixel check refuses (labelled so)")


@command("evaluate", "score a run's checkpoint (or official weights) on the fixed test masks", _evaluate_arguments)
def _evaluate(args: argparse.Namespace) -> int:
    if args.predictions is not None:
        from bench import predictions

        return predictions.run(args)
    from bench import evaluate

    return evaluate.run(args)


def _testset_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = sub.add_parser("export", help="write the test set (truth, masks, masked inputs, manifest.csv, "
                            "protocol.json) of the evaluation protocol")
    export.add_argument("dataset", help=DATASET_HELP)
    export.add_argument("out", type=Path, help="folder to write (a new or empty one)")
    export.add_argument("--data-root", type=Path, help="the dataset's folder")
    _cache_dir_argument(export)
    export.add_argument("--size", type=int, default=256, help="working size in pixels (default 256)")
    export.add_argument("--count", type=int, help="only the first N test images (eval.count; default all)")
    export.add_argument("--masks", type=lambda s: s.split(","), metavar="SETTING,…",
                        help="mask settings (default the paper's: center,irregular_0,…,irregular_5; also "
                        "lama-{thin,medium,thick}-{256,512}, mat-{small,large}-512: docs/data.md)")
    export.add_argument("--disjoint", action="store_true",
                        help="each image under one setting only (image i under setting i mod S; fewer images per "
                        "setting): for outputs from untrusted sources, since by default every image is under "
                        "every mask and the other settings' inputs show most of any hole")
    export.add_argument("--force", action="store_true",
                        help="replace OUT when it is an earlier export (the whole folder is deleted)")


@command("testset", "export the protocol's exact test set for other methods (testset export DATASET OUT)",
         _testset_arguments)
def _testset(args: argparse.Namespace) -> int:
    from bench import testset

    config = testset.protocol_config(args.dataset, data_root=args.data_root, size=args.size,
                                     settings=args.masks, count=args.count, cache_dir=args.cache_dir)
    path = testset.export(config, args.out, force=args.force, disjoint=args.disjoint)
    protocol, settings = testset.read_protocol(path), len(config.eval.masks)
    if protocol["disjoint"]:
        print(f"disjoint: each image under one setting only: {protocol['per_setting']} images per setting, "
              f"{protocol['per_setting'] * settings} of the first {protocol['count']} test images")
    elif settings > 1:
        print(f"each of the {protocol['count']} images is under all {settings} settings, so the other "
              "settings' inputs show most of any hole: for outputs from untrusted sources export with --disjoint")
    short = testset.short_split(protocol)
    if short:
        print(short)
    print(f"wrote {path} (holes {protocol['hole_value']} in the inputs)")
    return 0


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")


@command("status", "say whether runs are running (a live process holds the lock), evaluating, finished or failed, "
         "and why, with their last validation and any sign of divergence; exit status 1 if any could not be read "
         "or is not a run (then it says what the folder is)",
         _status_arguments)
def _status(args: argparse.Namespace) -> int:
    from bench import folder_kind, runs
    from bench.records import divergence, validation

    unreadable = 0
    for path in args.runs:  # every run gets its line, whatever the others hold
        kind = folder_kind.not_a_run(path)
        if kind is not None:
            unreadable += 1
            print(f"{path}: {kind}")
            continue
        folder = runs.RunFolder(path)
        try:
            status, detail = runs.run_status(folder)
            last = validation.last_line(folder.validation_file)
            signs = divergence.lines(folder.divergence_file)
        except Exception as error:
            unreadable += 1
            status, detail, last, signs = "unreadable", str(error), None, []
        print(f"{path}: {status}" + (f" — {detail}" if detail else ""))
        for line in ([] if last is None else [last]) + signs:
            print(f"  {line}")
    return 1 if unreadable else 0


# --- methods --------------------------------------------------------------------------------
def _methods_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="only these methods (default: every one); `check NAME` checks one method "
                        "(docs/methods.md: conformance, then a single-batch fit)")
    parser.add_argument("--no-build", action="store_true", help="do not build each method to count its parameters")
    parser.add_argument("--steps", type=int, help="check: training steps of the fit (default: the method's fit_check_steps)")
    parser.add_argument("--seed", type=int, default=0, help="check: the MethodSpec and scoring seed (default 0)")


@command("methods", "list every method: built-in and plugin (entry-point group inpaint_bench.methods); "
         "methods check NAME: does it keep the contract and learn one batch", _methods_arguments)
def _methods(args: argparse.Namespace) -> int:
    from bench import methods
    from bench.method import MethodSpec

    if args.names[:1] == ["check"]:
        return _methods_check(args)
    if args.steps is not None or args.seed != 0:
        raise ValueError("--steps and --seed belong to `methods check NAME`")
    broken = []
    for name in args.names or list(methods.REGISTRY):
        entry = methods.entry(name)
        print(f"{name:22s} {entry.origin}")
        print(f"{'':22s} {entry.description}")
        if not args.no_build:
            try:
                counts = methods.create(name, MethodSpec()).parameter_counts()
            except Exception as error:  # noqa: BLE001 — one line, and the other methods still listed
                print(f"{'':22s} error: {error}")
                broken.append(name)
                continue
            print(f"{'':22s} parameters (256 px): " + (", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"))
    for problem in methods.PLUGIN_PROBLEMS:
        print(f"error: {problem}", file=sys.stderr)
    broken += [problem.split(": ", 1)[0] for problem in methods.PLUGIN_PROBLEMS]
    if broken:  # the others are listed, and a script or CI job listing methods sees the failure
        print(f"error: {len(broken)} broken (see above): {'; '.join(broken)}", file=sys.stderr)
        return 1
    return 0


def _methods_check(args: argparse.Namespace) -> int:
    from bench import method_check

    if len(args.names) != 2:
        raise ValueError(f"methods check takes one method name, got {len(args.names) - 1}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps {args.steps}: need at least 1")
    try:
        for line in method_check.check(args.names[1], args.steps, args.seed):
            print(line, flush=True)
    except method_check.CheckFailed as failure:
        print(f"FAIL: {failure}", flush=True)
        return 1
    return 0


# --- tables / report ------------------------------------------------------------------------
def _l1_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--l1", help="L1 variant in the tables: l1_rel_pct (default, PEN-Net's relative L1) "
                        "or mae_pct (docs/metrics.md)")


def _l1(args: argparse.Namespace) -> str:
    """The --l1 variant, checked before any work (metrics imports torch, so not at parse time)."""
    from bench import metrics

    return metrics.check_l1(args.l1 or metrics.DEFAULT_L1)


def _tables_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, help="run folders with eval/rows.csv")
    parser.add_argument("--out", type=Path, required=True, help="folder for the table CSVs")
    parser.add_argument("--bin-by-hole-ratio", type=int, choices=(10, 20), action="append", default=[],
                        metavar="PERCENT", help="also write hole_ratio_bins_<PERCENT>.csv: every setting by its "
                        "masks' hole ratio in 10 %% (LaMa's) or 20 %% (CoModGAN's) bins; may be given twice")
    _l1_argument(parser)
    _partial_argument(parser)


def _partial_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partial", action="store_true",
                        help="go on with runs whose evaluation is incomplete or under way, marked partial "
                        "(default: refuse them)")


@command("tables", "regenerate the paper's tables (CSV) from runs' per-image rows", _tables_arguments)
def _tables(args: argparse.Namespace) -> int:
    from bench import coverage, tables

    l1 = _l1(args)  # a wrong variant is refused before any run is read
    incomplete = coverage.check(list(args.runs), args.partial)
    rows = tables.load_rows(list(args.runs))
    built = tables.build_tables(rows, tables.load_paper(), l1=l1)
    built.update({f"hole_ratio_bins_{w}": tables.by_hole_ratio(rows, w, l1=l1) for w in args.bin_by_hole_ratio})
    built = coverage.mark(built, incomplete)
    for path in tables.write_tables(built, args.out).values():
        print(f"wrote {path}")
    for reason in incomplete.values():
        print(f"partial: {reason}", file=sys.stderr)
    return 0


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="*", type=Path, help="one or more run folders to compare")
    parser.add_argument("--out", type=_folder, help="report folder (default: RUN/report when one run, "
                        "else results/reports/compare)")
    parser.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                        help="re-render DIR/report.html from a report folder alone (no run folders)")
    parser.add_argument("--title", help="the report's title")
    _l1_argument(parser)
    _partial_argument(parser)


@command("report", "write the HTML report of one or several runs", _report_arguments)
def _report(args: argparse.Namespace) -> int:
    from bench.report.build import build_report, render

    if (args.from_dir is None) == (not args.runs):
        raise SystemExit("inpaint-bench report: give run folders (RUN … [--out DIR]) or --from DIR, not both")
    if args.from_dir is not None:
        print(f"wrote {render(args.from_dir)}")
        return 0
    l1 = _l1(args)
    out = args.out or (args.runs[0] / "report" if len(args.runs) == 1 else Path("results/reports/compare"))
    print(f"wrote {build_report(list(args.runs), out, l1=l1, title=args.title, partial=args.partial)}")
    return 0


# --- reproduce ------------------------------------------------------------------------------
def _positive(text: str) -> int:
    """An argument that counts something: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    from bench import profiles

    parser.add_argument("profile", nargs="?", default="quick",
                        help=f"one of {', '.join(profiles.names())} (default quick)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted config overrides for every run, e.g. train.iterations=100")
    parser.add_argument("--data-root", type=Path, help="folder holding the datasets (DIR/<dataset>/ or DIR)")
    parser.add_argument("--datasets", type=lambda s: s.split(","), help="comma-separated subset of datasets")
    parser.add_argument("--methods", type=lambda s: s.split(","), help="comma-separated subset of methods")
    parser.add_argument("--only", choices=["train", "eval", "report"], help="run one stage only")
    parser.add_argument("--nproc", type=_positive, help="processes per training (default: the GPUs visible, or 1)")
    parser.add_argument("--estimate", action=argparse.BooleanOptionalAction, default=None,
                        help="measure a warm-up and print the training-time estimate (default: paper profiles)")
    parser.add_argument("--runs-root", type=Path, default=Path("results/runs"), help="where run folders live")
    parser.add_argument("--reports-root", type=Path, default=Path("results/reports"),
                        help="reports go to REPORTS_ROOT/<profile>/ (default results/reports)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--weights-root", type=Path,
                        help="folder of released weights, one sub-folder per release (default: weights.root)")
    parser.add_argument("--train-missing", action="store_true",
                        help="train a baseline whose released weights are missing, with its authors' recipe")
    _l1_argument(parser)


@command("reproduce", "run a profile end to end: train, evaluate, tables and report", _reproduce_arguments)
def _reproduce(args: argparse.Namespace) -> int:
    from bench.reproduce import reproduce

    reproduce(args.profile, data_root=args.data_root, datasets_filter=args.datasets, methods_filter=args.methods,
              only=args.only, nproc=args.nproc, overrides=list(args.overrides), runs_root=args.runs_root,
              reports_root=args.reports_root, l1=_l1(args), progress=not args.no_progress, warmup=args.estimate,
              weights_root=args.weights_root, train_missing=args.train_missing)
    return 0


# --- inpaint one image ----------------------------------------------------------------------
def _inpaint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Inpaint an image (or each image of a folder) with a checkpoint. The output keeps the image's own "
        "size, aspect ratio and pixels outside the hole: the model runs at its working size (the image is "
        "resized whole to size², stretched to a square), and its prediction is resized back to fill only "
        "the hole. PNG and WebP outputs keep the known pixels exactly; JPEG is lossy.")
    parser.add_argument("--method", required=True, help="a registry name (bench/methods.py)")
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--checkpoint", type=Path, help="a run checkpoint (or a released file, recognised as such)")
    weights.add_argument("--official", type=Path, help="released weights: a file, or a release folder (PIC-Net)")
    parser.add_argument("--image", type=Path, required=True, help="the image to inpaint, or a folder of images")
    parser.add_argument("--mask", type=Path, required=True,
                        help="mask image, white = hole (resized to the image's size, with a warning, when it "
                             "differs); or a folder of masks named like the images")
    parser.add_argument("--out", type=Path, required=True,
                        help="output file (.png, .webp or .jpg/.jpeg, by its extension); a folder when --image "
                             "is one (NAME.png for each image NAME)")
    parser.add_argument("--size", type=int, help="working size of released weights (default 256); "
                        "a run checkpoint runs at its own size and refuses another")
    parser.add_argument("--force", action="store_true", help="let --out replace an input image or mask")


@command("inpaint", "inpaint an image (or a folder of images) with a checkpoint", _inpaint_arguments)
def _inpaint(args: argparse.Namespace) -> int:
    from bench.inpaint import inpaint_files

    weights = args.official or args.checkpoint  # a run checkpoint is told from a release by content
    written = inpaint_files(args.method, weights, args.image, args.mask, args.out, args.size, force=args.force)
    print(f"wrote {written[0]}" if len(written) == 1 else f"wrote {len(written)} images to {args.out}")
    return 0


# --- benchmarks -----------------------------------------------------------------------------
def _benchmark_names() -> list[str]:
    """The benchmark scripts: the modules of bench/benchmarks that define main() (read, not imported)."""
    import ast

    def script(path: Path) -> bool:
        tree = ast.parse(path.read_text())
        return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)

    folder = Path(__file__).parent / "benchmarks"
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_") and script(p))


def _benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=_benchmark_names(), help="which benchmark script")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="its own arguments (see NAME --help)")


@command("benchmark", "run a speed/memory benchmark script (benchmark NAME --help)", _benchmark_arguments)
def _benchmark(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"bench.benchmarks.{args.name}")
    sys.argv = [f"inpaint-bench benchmark {args.name}", *args.arguments]
    module.main()
    return 0


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args(argv)`, except that KEY=VALUE overrides may also follow the options.

    argparse stops filling a positional list at the first option, so `… --nproc 2
    train.iterations=10` would otherwise be refused; such trailing items join `overrides`.
    """
    args, extra = parser.parse_known_args(argv)
    if extra:
        stray = [item for item in extra if item.startswith("-") or "=" not in item]
        if stray or not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
        args.overrides = [*args.overrides, *extra]
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inpaint-bench",
        description="Reproduce and benchmark SRPNet beside PEN-Net, GLCIC and PIC-Net.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, arguments, run) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        arguments(child)
        child.set_defaults(run=run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (what schedulers send before SIGKILL), raised where Ctrl-C would be, so that it
    is handled as Ctrl-C is: the run is marked failed, a file being written is kept whole."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated("terminated (SIGTERM); rerun the same command to resume")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(build_parser(), argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return args.run(args)
    except KeyboardInterrupt as error:  # bench.runs.Interrupted names the file it was writing
        print(str(error) or "interrupted", file=sys.stderr)
        terminated = isinstance(error, Terminated) or isinstance(error.__cause__, Terminated)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    except Exception as error:  # one clear line for the user; --debug shows the traceback
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
