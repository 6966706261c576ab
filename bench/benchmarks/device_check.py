"""The prepared device check: the figures a lent GPU must give, in one command, within 8 minutes.

    inpaint-bench benchmark device_check [--smoke] [--official-pennet DIR] [--out DIR] [--work DIR]
                                         [--commit SHA]

Cases, in order, each under its own time cap (CAPS, in seconds; together at most BUDGET_S):
  environment     torch, CUDA, cuDNN, GPU name and memory, the commit;
  speed METHOD    for each trained method of the paper's tables (from the registry): train step
                  and inference images/s at batch 8 in float32, bfloat16 autocast and
                  channels_last, with peak memory and whether every loss and output is finite
                  (timed from step TIMED_FROM: each method in its main training phase);
                  then the largest batch up to 64 that trains (doubling, stopping at the first
                  out-of-memory), with the peak memory of each;
  parity          each trained method's output in bfloat16 and in channels_last against float32
                  on the same inputs and (seeded, fresh) weights: max and mean absolute difference,
                  and the mean relative to float32's mean absolute output within PARITY_BOUNDS, so
                  a speed figure never hides a wrong result;
  torchrun N      `torchrun --nproc-per-node N` training the reference method a few steps (NCCL on
                  GPU, gloo on CPU) with train.bf16 and train.channels_last: N = 1, and 2 when two
                  GPUs are visible. One process starts no process group (bench.distributed), so
                  only N = 2 runs a collective;
  quick profile   `inpaint-bench reproduce quick` end to end, its centre-mask PSNR per method
                  against the committed CPU figures (quick_cpu_reference.csv) within QUICK_BOUNDS_DB;
  official pennet the official PEN-Net code's train step beside ours on the same inputs, when a
                  checkout is given (bench/benchmarks/official_pennet.py says how it is found).
A case that fails or runs past its cap records its one-line error and the check goes on. Every
finished figure is written at once (the JSON record and the CSV of bench/benchmarks/record.py,
rewritten atomically), so a time-out still leaves all of them; the summary table is printed last.
Files go to --out: $OUT when that variable is set, else results/benchmarks/; run folders of the
torchrun and quick cases to --work (default: beside the record, `<record>-work/`).

`--smoke` is the CPU proof the test suite runs (tests/test_device_check.py): 64², batch 2, one
step per case, the largest batch searched up to 4, torchrun with 2 gloo processes (a real process
group), and the quick profile narrowed to its training-free mean fill (training it all takes
minutes on CPU), whose figure must equal the committed one.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench import config as config_module
from bench import methods, profiles, runs
from bench.benchmarks import official_pennet
from bench.benchmarks.model_speed import PeakMemory, centre_hole_batch, synchronize, timed
from bench.benchmarks.record import DEFAULT_DIR, Record
from bench.method import Method, MethodSpec

BUDGET_S = 480  # 8 minutes: a lent machine's single command may run 10
CAPS = {"environment": 10, "speed": 35, "parity": 25, "torchrun": 40, "quick profile": 180,
        "official pennet": 30}  # "speed" per method, "torchrun" per process count: 425 s on one GPU, 465 on two
MODES = {"float32": (False, False), "bfloat16": (True, False), "channels_last": (False, True)}  # (bf16, channels_last)
# Output against float32's: mean |difference| over mean |float32 output| (fresh networks give
# small outputs, 4e-4 to 0.2 on average at 64², so an absolute bound would say little).
# channels_last is the same arithmetic in another order (CUDA convolutions may use TF32 in both);
# bfloat16 keeps 8 bits of mantissa (measured on CPU: 0.4 % to 14 %).
PARITY_BOUNDS = {"bfloat16": 0.25, "channels_last": 1e-2}
# README.md's quick-run table (2026-12-07, the idle 2-core CPU): centre-mask mean PSNR (dB) over
# the 24 test crops per method (quick_cpu_reference.csv beside this file; srpnet-baseline is
# pennet's network, trained once), and the wall time.
CPU_QUICK_REFERENCE = Path(__file__).with_name("quick_cpu_reference.csv")
CPU_QUICK_WALL_S = 395
# Methods are built for ITERATIONS steps and timed from step TIMED_FROM on: every one in its main
# phase (GLCIC's joint one, 80 % of its steps; at step 0 it trains its completion network alone).
ITERATIONS, TIMED_FROM = 1000, 900
# The torchrun cases train with the trainer's GPU options on (it applies them on GPU only).
TRAINER_OPTIONS = ("train.bf16=true", "train.channels_last=true")
# A GPU run must land within this of the CPU figure: training-free methods compute the same
# (on CPU in both runs); trained ones take 100 steps in other float arithmetic.
QUICK_BOUNDS_DB = {"training-free": 0.05, "trained": 1.0}


@dataclass(frozen=True)
class Settings:
    size: int
    batch: int
    max_batch: int
    steps: int  # timed repetitions
    warmup: int
    torchrun_steps: int
    torchrun_processes: tuple[int, ...] | None  # None: 1, and 2 when two GPUs are visible
    quick_arguments: tuple[str, ...]
    quick_note: str
    time_scale: float  # the caps and the budget are CAPS and BUDGET_S times this


FULL = Settings(256, 8, 64, 3, 1, 5, None, (), "the whole quick profile", 1.0)
# A shared 2-core CPU runs the smoke's cases up to 5× slower under load than idle (torchrun with 2
# gloo processes took 36 s there at a load of 9, 2 cores): generous caps, the check is its cases.
SMOKE = Settings(64, 2, 4, 1, 0, 1, (2,), ("--methods", methods.FLOOR_REFERENCES[0]),
                 "smoke: the training-free mean fill only (training the whole profile takes minutes on CPU)", 5.0)


class CaseTimeout(Exception):
    """A case ran past its time cap."""


@contextlib.contextmanager
def capped(seconds: float) -> Iterator[None]:
    """Raise CaseTimeout in the block once `seconds` have passed (SIGALRM: main thread only;
    elsewhere the block runs uncapped)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise CaseTimeout(f"ran past its cap of {seconds:.3g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Check:
    """The record being filled, its folders, and the budget left."""

    def __init__(self, args: argparse.Namespace, settings: Settings, device: torch.device) -> None:
        self.args, self.settings, self.device = args, settings, device
        self.record = Record("device_check", vars(args), device)
        self.out = args.out
        self.work = args.work or Path(f"{self.record.stem(args.out)}-work")
        self.started = time.perf_counter()

    def left(self) -> float:
        return BUDGET_S * self.settings.time_scale - (time.perf_counter() - self.started)

    def add(self, case: str, summary: str, **figures: Any) -> None:
        """One finished figure: recorded and written at once."""
        self.record.add(case=case, status=figures.pop("status", "ok"), summary=summary, **figures)
        self.record.write(self.out, announce=False)

    def run(self, case: str, cap: float, work: Callable[[float], None]) -> None:
        """Run one case under min(cap, budget left), given those seconds; an error or time-out
        is its record."""
        seconds = min(cap, self.left())
        if seconds <= 0:
            self.add(case, "budget spent", status="skipped")
            return
        self.record.say(f"--- {case} (cap {seconds:.0f} s)")
        start = time.perf_counter()
        try:
            with capped(seconds):
                work(seconds)
        except Exception as error:  # noqa: BLE001 — a failing case is recorded, the check goes on
            line = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
            self.add(case, line, status="error", error=line, seconds=time.perf_counter() - start)
        finally:
            free(self.device)
        self.record.say(f"    {case}: {time.perf_counter() - start:.1f} s")


def free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def trained_methods() -> list[str]:
    """The paper's trained methods, in the registry's order."""
    return [name for name in methods.IN_PAPER_TABLES if not methods.entry(name).training_free]


# --- cases --------------------------------------------------------------------------------------
def environment(check: Check) -> None:
    cuda = check.device.type == "cuda"
    properties = torch.cuda.get_device_properties(check.device) if cuda else None
    figures = {"gpus": torch.cuda.device_count(),
               "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
               "gpu_memory_gib": properties.total_memory / 2**30 if properties else None,
               "capability": f"{properties.major}.{properties.minor}" if properties else None}
    env = check.record.environment
    # A copy of the working tree without git history (a lent machine's) cannot say its commit:
    # then the one given with --commit, said to be given.
    commit, source = (env["git_sha"], "git") if env["git_sha"] else (check.args.commit, "--commit")
    said = f"{commit[:10]}{' (dirty)' if env['git_dirty'] else ''}" if commit else "unknown (pass --commit)"
    check.add("environment", f"torch {env['torch']}, CUDA {env['cuda']}, cuDNN {figures['cudnn']}, "
              f"{env['device']}" + (f" {figures['gpu_memory_gib']:.0f} GiB" if properties else "")
              + f", commit {said}{' from --commit' if commit and source == '--commit' else ''}",
              commit=commit, commit_source=source if commit else None, **figures)


def build(check: Check, name: str, channels_last: bool = False) -> tuple[Method, torch.Tensor, torch.Tensor]:
    """Method `name` at the check's size (seeded), and the seeded centre-hole batch."""
    s = check.settings
    torch.manual_seed(0)
    method = methods.create(name, MethodSpec(image_size=s.size, iterations=ITERATIONS, seed=0)).to(check.device)
    images, masks = centre_hole_batch(s.batch, s.size, check.device, 0)
    if channels_last:
        method.channels_last()
        images, masks = (t.contiguous(memory_format=torch.channels_last) for t in (images, masks))
    return method, images, masks


def precision(check: Check, bf16: bool):
    return torch.autocast(check.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def finite(method: Method, values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values) and all(
        torch.isfinite(p).all() for net in method.networks.values() for p in net.parameters())


def speed(check: Check, name: str) -> None:
    s = check.settings
    peaks: dict[int, float] = {}
    for mode, (bf16, channels_last) in MODES.items():
        method, images, masks = build(check, name, channels_last)
        losses: list[float] = []
        outputs: list[bool] = []
        step = TIMED_FROM

        def train_once() -> None:
            nonlocal step
            with precision(check, bf16):
                losses.extend(method.train_step(images, masks, step).values())
            step += 1

        def inpaint_once() -> None:
            with precision(check, bf16), torch.inference_mode():
                outputs.append(bool(torch.isfinite(method.inpaint(images, masks)).all()))

        method.eval()
        with PeakMemory(check.device) as inference_memory:
            inference_s = timed(inpaint_once, s.steps, s.warmup, check.device)
        method.train()
        with PeakMemory(check.device) as train_memory:
            train_s = timed(train_once, s.steps, s.warmup, check.device)
        ok = finite(method, losses) and all(outputs)
        check.add(f"speed {name}", f"{mode}: train {s.batch / train_s:.2f} img/s, inference "
                  f"{s.batch / inference_s:.2f} img/s, peak {train_memory.added_mib:.0f} MiB"
                  f"{'' if ok else ', NOT FINITE'}",
                  method=name, mode=mode, size=s.size, batch=s.batch, train_step_s=train_s,
                  train_images_per_s=s.batch / train_s, inference_images_per_s=s.batch / inference_s,
                  train_memory_mib=train_memory.added_mib, inference_memory_mib=inference_memory.added_mib,
                  finite=ok)
        if mode == "float32":
            peaks[s.batch] = train_memory.added_mib
        del method, images, masks
        free(check.device)
    largest_batch(check, name, peaks)


def largest_batch(check: Check, name: str, peaks: dict[int, float]) -> None:
    """One float32 train step at 2×batch, 4×batch, … up to max_batch (batch itself trained in
    `speed`, its peak in `peaks`); stop at the first out-of-memory."""
    s = check.settings
    method, _, _ = build(check, name)
    method.train()
    largest, batch = s.batch, 2 * s.batch
    while batch <= s.max_batch:
        try:
            images, masks = centre_hole_batch(batch, s.size, check.device, 0)
            with PeakMemory(check.device) as memory:
                method.train_step(images, masks, TIMED_FROM)
                synchronize(check.device)
        except torch.OutOfMemoryError:
            break
        finally:
            images = masks = None
            free(check.device)
        largest, peaks[batch] = batch, memory.added_mib
        batch *= 2
    check.add(f"speed {name}", f"largest batch that trains (≤ {s.max_batch}): {largest}, peak "
              + ", ".join(f"{b}: {m:.0f} MiB" for b, m in peaks.items()),
              method=name, mode="float32", size=s.size, largest_batch=largest, max_batch_tried=s.max_batch,
              **{f"train_memory_mib_batch_{b}": m for b, m in peaks.items()})


def parity(check: Check) -> None:
    for name in trained_methods():
        method, images, masks = build(check, name)
        method.eval()

        def output(bf16: bool, images=images, masks=masks) -> torch.Tensor:
            torch.manual_seed(0)  # a sampling method (PIC-Net) draws the same noise each time
            with precision(check, bf16), torch.inference_mode():
                return method.inpaint(images, masks).float()

        reference = output(False)
        for mode, (bf16, channels_last) in list(MODES.items())[1:]:
            if channels_last:
                method.channels_last()
                given = [t.contiguous(memory_format=torch.channels_last) for t in (images, masks)]
            else:
                given = [images, masks]
            difference = (output(bf16, *given) - reference).abs()
            largest, mean = difference.max().item(), difference.mean().item()
            relative = mean / max(reference.abs().mean().item(), 1e-12)
            within = relative <= PARITY_BOUNDS[mode]
            check.add("parity", f"{name} {mode} vs float32: max {largest:.2e}, mean {mean:.2e}, relative "
                      f"{relative:.2e} ({'within' if within else 'OVER'} {PARITY_BOUNDS[mode]:g})",
                      method=name, mode=mode, max_abs_difference=largest, mean_abs_difference=mean,
                      relative_difference=relative, bound=PARITY_BOUNDS[mode], within_bound=within)
        del method
        free(check.device)


def run_command(command: list[str], log: Path, seconds: float) -> None:
    """Run `command` in its own session, output to `log`; past `seconds` (or on any error) the
    whole session is killed, torchrun's workers included. Raises with the log's last line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=seconds)
        except BaseException as error:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if isinstance(error, subprocess.TimeoutExpired):
                raise CaseTimeout(f"ran past its cap of {seconds:.3g} s (log: {log})") from None
            raise
    if code != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise RuntimeError(f"exit status {code}: {lines[-1] if lines else 'no output'} (log: {log})")


def torchrun(check: Check, processes: int, seconds: float) -> None:
    s = check.settings
    (run,) = profiles.plan("quick", methods=[methods.REFERENCE], overrides=[
        f"train.iterations={s.torchrun_steps}", f"train.batch_size={s.batch}", "train.validate_every=null",
        f"train.checkpoint_every={s.torchrun_steps}", "train.log_every=1", f"train.device={check.device.type}",
        *TRAINER_OPTIONS]).runs
    folder = check.work / f"torchrun-{processes}"
    config_file = folder / "train.yaml"  # the train command's config; the run folder is folder/run
    runs.write_text(config_file, config_module.dump(run.config))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "bench", "train", str(config_file), "--run-dir", str(folder / "run"), "--no-progress"]
    start = time.perf_counter()
    run_command(command, folder / "log.txt", seconds - 2)
    wall = time.perf_counter() - start
    manifest = runs.RunFolder(folder / "run").read_manifest()
    backend = ("nccl" if check.device.type == "cuda" else "gloo") if processes > 1 else "none (one process)"
    check.add(f"torchrun {processes}", f"{processes} process(es), backend {backend}, {' '.join(TRAINER_OPTIONS)}: "
              f"{s.torchrun_steps} step(s) in {wall:.1f} s wall (start-up included), run {manifest.status}",
              processes=processes, backend=backend, trainer_options=" ".join(TRAINER_OPTIONS),
              steps=s.torchrun_steps, wall_s=wall,
              world_size=manifest.world_size, run_status=manifest.status)


def quick_profile(check: Check, seconds: float) -> None:
    from bench import tables

    folder = check.work / "quick"
    command = [sys.executable, "-m", "bench", "reproduce", "quick", "--runs-root", str(folder / "runs"),
               "--reports-root", str(folder / "reports"), "--no-progress", *check.settings.quick_arguments]
    start = time.perf_counter()
    run_command(command, folder / "log.txt", seconds - 2)
    wall = time.perf_counter() - start
    rows = tables.load_rows(sorted(p for p in (folder / "runs").iterdir() if p.is_dir()))
    centre = rows[rows["mask_setting"] == "center"].groupby("method", sort=False)["psnr"].mean()
    cpu = {row["method"]: float(row["centre_psnr"]) for row in csv.DictReader(CPU_QUICK_REFERENCE.open())}
    check.add("quick profile", f"{check.settings.quick_note}: {wall:.0f} s wall (CPU: {CPU_QUICK_WALL_S} s)",
              wall_s=wall, cpu_wall_s=CPU_QUICK_WALL_S, methods=len(centre))
    for name, psnr in centre.items():
        kind = "training-free" if methods.entry(name).training_free else "trained"
        difference = psnr - cpu[name]
        within = abs(difference) <= QUICK_BOUNDS_DB[kind]
        check.add("quick profile", f"{name} centre PSNR {psnr:.2f} dB, CPU {cpu[name]:.2f} "
                  f"({difference:+.2f}; {'within' if within else 'OUTSIDE'} ±{QUICK_BOUNDS_DB[kind]:g})",
                  method=name, centre_psnr=psnr, cpu_centre_psnr=cpu[name],
                  difference_db=difference, bound_db=QUICK_BOUNDS_DB[kind], within_bound=within)


def official(check: Check) -> None:
    folder = official_pennet.checkout(check.args.official_pennet)
    if folder is None:
        check.add("official pennet", "skipped: no checkout given (--official-pennet DIR or "
                  f"${official_pennet.ENVIRONMENT})", status="skipped")
        return
    s = check.settings
    method, images, masks = build(check, methods.OFFICIAL_CODE_TWIN)
    method.train()
    theirs = official_pennet.train_step(folder, images, masks)
    ours_s = timed(lambda: method.train_step(images, masks, TIMED_FROM), s.steps, s.warmup, check.device)
    theirs_s = timed(theirs, s.steps, s.warmup, check.device)
    check.add("official pennet", f"train step at batch {s.batch}: official {s.batch / theirs_s:.2f} img/s, "
              f"ours {s.batch / ours_s:.2f} img/s, ratio {theirs_s / ours_s:.2f}×",
              size=s.size, batch=s.batch, official_images_per_s=s.batch / theirs_s,
              ours_images_per_s=s.batch / ours_s, ratio=theirs_s / ours_s, checkout=str(folder))


# --- the command --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="inpaint-bench benchmark device_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the CPU proof: 64², batch 2, one step per case")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--official-pennet", type=Path, default=None,
                        help=f"a checkout of the official PEN-Net code (else ${official_pennet.ENVIRONMENT})")
    default_out = Path(os.environ["OUT"]) if os.environ.get("OUT") else DEFAULT_DIR
    parser.add_argument("--out", type=Path, default=default_out,
                        help=f"folder for the JSON + CSV ($OUT when set, else {DEFAULT_DIR})")
    parser.add_argument("--commit", default=None,
                        help="the commit of a copy without git history (a lent machine's), recorded as given")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the torchrun and quick-profile run folders (default: <record>-work)")
    return parser.parse_args(argv)


def plan(check: Check) -> list[tuple[str, float, Callable[[float], None]]]:
    """(case, cap in seconds, work given its seconds), in order."""
    s = check.settings
    caps = {case: cap * s.time_scale for case, cap in CAPS.items()}
    processes = s.torchrun_processes or ((1, 2) if torch.cuda.device_count() >= 2 else (1,))
    cases: list[tuple[str, float, Callable[[float], None]]] = [
        ("environment", caps["environment"], lambda _: environment(check))]
    cases += [(f"speed {name}", caps["speed"], lambda _, name=name: speed(check, name)) for name in trained_methods()]
    cases.append(("parity", caps["parity"], lambda _: parity(check)))
    cases += [(f"torchrun {n}", caps["torchrun"], lambda seconds, n=n: torchrun(check, n, seconds)) for n in processes]
    cases.append(("quick profile", caps["quick profile"], lambda seconds: quick_profile(check, seconds)))
    cases.append(("official pennet", caps["official pennet"], lambda _: official(check)))
    return cases


def summary(check: Check) -> None:
    width = max(len(r["case"]) for r in check.record.results)
    check.record.say(f"{'case':{width}s}  {'status':7s}  figures")
    for row in check.record.results:
        check.record.say(f"{row['case']:{width}s}  {row['status']:7s}  {row['summary']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = SMOKE if args.smoke else FULL
    check = Check(args, settings, torch.device(args.device))
    cases = plan(check)
    total = sum(cap for _, cap, _ in cases)
    check.record.say(f"device check{' (smoke)' if args.smoke else ''} on {check.record.environment['device']}: "
                     f"{len(cases)} cases, caps {total:.0f} s in all, budget {BUDGET_S * settings.time_scale:.0f} s; record "
                     f"{check.record.stem(args.out)}.json")
    for case, cap, work in cases:
        check.run(case, cap, work)
    check.record.say(f"=== device check done in {time.perf_counter() - check.started:.0f} s")
    summary(check)
    check.record.write(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
