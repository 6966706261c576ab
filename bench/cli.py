"""The command line: `inpaint-bench …` and `python -m bench …`.

Every subcommand has --help. Errors print one line naming what is wrong (no traceback) unless
--debug is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help_text: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand: its help, its arguments and the function that runs it."""
    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (help_text, arguments, run)
        return run
    return register


# --- data -----------------------------------------------------------------------------------
def _data_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="count each split's images against the paper's Table 1")
    check.add_argument("dataset", help="dtd, facade, celeba-hq, places2 or sample")
    check.add_argument("--data-root", type=Path, help="the dataset's folder")
    check.add_argument("--cache-dir", type=Path, help="where split lists live (default results/cache)")


@command("data", "inspect datasets (data check DATASET --data-root DIR)", _data_arguments)
def _data(args: argparse.Namespace) -> int:
    from bench.data.datasets import check_dataset

    report = check_dataset(args.dataset, args.data_root, args.cache_dir)
    ok = True
    for row in report:
        status = "ok" if row["found"] == row["expected"] and not row["missing"] else "MISMATCH"
        ok &= status == "ok"
        print(f"{row['dataset']:10s} {row['split']:5s} found {row['found']:>9,d}  expected {row['expected']:>9,d}  {status}")
        for name in row["missing"][:10]:
            print(f"  missing: {name}")
        if len(row["missing"]) > 10:
            print(f"  … and {len(row['missing']) - 10} more missing")
    return 0 if ok else 1


# --- masks ----------------------------------------------------------------------------------
def _masks_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = sub.add_parser("make", help="write a fixed irregular test mask set (PNG + manifest)")
    make.add_argument("out", type=Path, help="folder to write (kept if it already holds the same set)")
    make.add_argument("--size", type=int, default=256, help="mask side in pixels (default 256)")
    make.add_argument("--count", type=int, default=2000, help="masks per bucket (default 2000)")
    make.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")


@command("masks", "make the fixed irregular test masks (masks make OUT)", _masks_arguments)
def _masks(args: argparse.Namespace) -> int:
    from bench.data.masks import make_mask_set

    manifest = make_mask_set(args.out, args.size, args.count, args.seed)
    print(f"wrote {manifest}")
    return 0


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one clear line for the user; --debug shows the traceback
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
