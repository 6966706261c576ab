"""Benchmark the data side: irregular-mask generation per bucket and size, and metric scoring.

    python -m bench.benchmarks.data_speed [--size 64,128,256] [--masks 2000] [--pairs 1000] [--out DIR]

Prints, for each mask size, the seconds for one bucket of generated masks (one core) and the
slowest single mask (a sign of rejection sampling redrawing); then seconds for scoring image
pairs with every metric (L1 ×2, PSNR, SSIM, MS-SSIM) at the largest size, in batches as the
evaluator scores them. What it prints is also written, with the environment, to `--out`
(bench/benchmarks/record.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench import metrics
from bench.benchmarks.record import DEFAULT_DIR, Record
from bench.data import masks


def time_masks(size: int, count: int) -> list[tuple[float, float]]:
    """(total seconds, slowest mask's seconds) per bucket for `count` masks at `size`²."""
    found = []
    for bucket in range(len(masks.BUCKETS)):
        slowest, start = 0.0, time.perf_counter()
        for i in range(count):
            before = time.perf_counter()
            masks.generated_mask(size, bucket, seed=0, index=i)
            slowest = max(slowest, time.perf_counter() - before)
        found.append((time.perf_counter() - start, slowest))
    return found


def time_metrics(size: int, pairs: int, batch: int) -> float:
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    other = (truth + 0.1 * torch.randn(truth.shape, generator=g)).clamp(-1, 1)
    start = time.perf_counter()
    for _ in range(0, pairs, batch):
        metrics.score_batch(truth, other)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=lambda s: [int(x) for x in s.split(",")], default=[64, 128, 256],
                        help="mask sides, comma-separated (default 64,128,256); metrics use the largest")
    parser.add_argument("--masks", type=int, default=2000, help="masks per bucket")
    parser.add_argument("--pairs", type=int, default=1000, help="image pairs to score")
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help=f"folder for the JSON + CSV of the figures (default {DEFAULT_DIR})")
    args = parser.parse_args()
    record = Record("data_speed", vars(args), "cpu")
    for size in args.size:
        for bucket, (seconds, slowest) in enumerate(time_masks(size, args.masks)):
            record.say(f"masks  bucket {masks.BUCKET_LABELS[bucket]:11s} {args.masks} at {size}²: {seconds:6.2f} s "
                       f"(one core; slowest mask {slowest * 1000:.1f} ms)")
            record.add(measure="masks", size=size, bucket=masks.BUCKET_LABELS[bucket], count=args.masks,
                       seconds=seconds, slowest_mask_s=slowest)
    size = max(args.size)
    seconds = time_metrics(size, args.pairs, args.batch)
    record.say(f"metrics {args.pairs} pairs at {size}², batch {args.batch}, {torch.get_num_threads()} threads: "
               f"{seconds:6.2f} s ({args.pairs / seconds:.1f} pairs/s)")
    record.add(measure="metrics", size=size, count=args.pairs, seconds=seconds, pairs_per_s=args.pairs / seconds)
    record.write(args.out)

if __name__ == "__main__":
    main()
