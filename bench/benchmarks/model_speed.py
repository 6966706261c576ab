"""Speed and memory of one registry method: training step, inference, peak memory and FLOPs.

    python -m bench.benchmarks.model_speed --method NAME --size 256 --batch 4

Prints train-step images/s (one full `train_step`: every D and G update), inference images/s,
the peak memory each phase adds above where it starts (see PeakMemory), the train step's FLOPs
counted by torch.utils.flop_counter.FlopCounterMode, and the achieved FLOP/s against a measured
matmul peak on the same device. Inputs are random images with a
centred square hole of half the side (PEN-Net's test mask). `--bf16` and `--channels-last` time
the trainer's GPU options (train.bf16, train.channels_last) on any device. What it prints is
also written, with the environment, to `--out` (bench/benchmarks/record.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.benchmarks.record import DEFAULT_DIR, Record
from bench.method import Method, MethodSpec
from bench.methods import REFERENCE, create, names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.benchmarks.model_speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--method", default=REFERENCE, choices=names())
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--batch", type=int, default=4, help="images per step (default 4)")
    parser.add_argument("--steps", type=int, default=3, help="timed repetitions (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--dataset", default="sample", help="selects per-dataset settings")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast around training and inference (train.bf16)")
    parser.add_argument("--channels-last", action="store_true",
                        help="networks and inputs in channels_last (train.channels_last)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help=f"folder for the JSON + CSV of the figures (default {DEFAULT_DIR})")
    return parser.parse_args(argv)


def centre_hole_batch(batch: int, size: int, device: torch.device, seed: int):
    generator = torch.Generator().manual_seed(seed)
    images = (torch.rand(batch, 3, size, size, generator=generator) * 2 - 1).to(device)
    masks = torch.zeros(batch, 1, size, size, device=device)
    masks[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    return images, masks


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> float:
    """Best wall time of `repeats` runs after `warmup` runs (best: least disturbed by others)."""
    for _ in range(warmup):
        run()
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


class PeakMemory:
    """Peak memory above the starting level while the block runs, in MiB.

    CUDA: max_memory_allocated. CPU on Linux: the resident set read from /proc/self/statm by a
    thread every millisecond (large tensors live far longer than that); elsewhere the growth of
    ru_maxrss, which only counts peaks above every earlier one.
    """

    STATM = Path("/proc/self/statm")

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.added_mib = 0.0
        self._sampling = threading.Event()

    def _resident_bytes(self) -> int:
        if self.STATM.exists():
            return int(self.STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def _sample(self) -> None:
        while not self._sampling.wait(0.001):
            self._peak = max(self._peak, self._resident_bytes())

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            self._start = self._peak = self._resident_bytes()
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._sampling.set()
            self._sampler.join()
            peak = max(self._peak, self._resident_bytes())
        self.added_mib = (peak - self._start) / 2**20


def matmul_peak_flops(device: torch.device, dtype: torch.dtype = torch.float32, side: int = 4096,
                      repeats: int = 8) -> float:
    """Measured FLOP/s of a large square `dtype` matmul on `device` (best of `repeats`)."""
    a = torch.randn(side, side, device=device, dtype=dtype)
    b = torch.randn(side, side, device=device, dtype=dtype)
    seconds = timed(lambda: a @ b, repeats, 1, device)
    return 2 * side**3 / seconds


def step_flops(method: Method, images, masks) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        method.train_step(images, masks, step=0)
    return counter.get_total_flops()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    spec = MethodSpec(image_size=args.size, iterations=1000, dataset=args.dataset, seed=args.seed)
    method = create(args.method, spec).to(device)
    images, masks = centre_hole_batch(args.batch, args.size, device, args.seed)
    if args.channels_last:
        method.channels_last()
        images = images.contiguous(memory_format=torch.channels_last)
        masks = masks.contiguous(memory_format=torch.channels_last)
    precision = (torch.autocast(device.type, dtype=torch.bfloat16) if args.bf16
                 else contextlib.nullcontext())
    step = 0

    def train_once() -> None:
        nonlocal step
        with precision:
            method.train_step(images, masks, step)
        step += 1

    def inpaint_once() -> None:
        with precision:
            method.inpaint(images, masks)

    record = Record("model_speed", vars(args), device)
    precision_name = "bfloat16" if args.bf16 else "float32"
    record.say(f"method {args.method}, {args.size}x{args.size}, batch {args.batch}, device {device}, "
               f"threads {torch.get_num_threads()}, torch {torch.__version__}, "
               f"{'bf16 autocast' if args.bf16 else 'float32'}"
               f"{', channels_last' if args.channels_last else ''}")
    counts = method.parameter_counts()
    record.say("parameters: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    # Inference first: afterwards the allocator keeps training's freed memory resident.
    with PeakMemory(device) as inference_memory:
        inference_seconds = timed(inpaint_once, args.steps, args.warmup, device)
    method.train()
    with PeakMemory(device) as train_memory:
        train_seconds = timed(train_once, args.steps, args.warmup, device)
    with precision:
        flops = step_flops(method, images, masks)
    peak = matmul_peak_flops(device, torch.bfloat16 if args.bf16 else torch.float32)
    achieved = flops / train_seconds
    record.say(f"train step (all D and G updates): {train_seconds:.3f} s, "
               f"{args.batch / train_seconds:.2f} images/s")
    record.say(f"inference: {inference_seconds:.3f} s, {args.batch / inference_seconds:.2f} images/s")
    record.say(f"peak memory added: train {train_memory.added_mib:.0f} MiB, "
               f"inference {inference_memory.added_mib:.0f} MiB")
    record.say(f"train step FLOPs: {flops / 1e9:.1f} GFLOP; achieved {achieved / 1e9:.1f} GFLOP/s "
               f"= {100 * achieved / peak:.0f}% of the measured "
               f"{precision_name} matmul peak {peak / 1e9:.1f} GFLOP/s")
    record.add(method=args.method, size=args.size, batch=args.batch, precision=precision_name,
               channels_last=args.channels_last, parameters=sum(counts.values()),
               train_step_s=train_seconds, train_images_per_s=args.batch / train_seconds,
               inference_s=inference_seconds, inference_images_per_s=args.batch / inference_seconds,
               train_memory_mib=train_memory.added_mib, inference_memory_mib=inference_memory.added_mib,
               train_step_gflop=flops / 1e9, achieved_gflop_per_s=achieved / 1e9,
               matmul_peak_gflop_per_s=peak / 1e9)
    record.write(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
