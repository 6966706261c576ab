"""Benchmark the data side: irregular-mask generation per bucket and metric scoring.

    python -m bench.benchmarks.data_speed [--size 256] [--masks 2000] [--pairs 1000]

Prints seconds for one bucket of generated masks (one core) and for scoring image pairs with
every metric (L1 ×2, PSNR, SSIM, MS-SSIM), in batches as the evaluator scores them.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench import metrics
from bench.data import masks


def time_masks(size: int, count: int) -> list[float]:
    seconds = []
    for bucket in range(len(masks.BUCKETS)):
        start = time.perf_counter()
        for i in range(count):
            masks.generated_mask(size, bucket, seed=0, index=i)
        seconds.append(time.perf_counter() - start)
    return seconds


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
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--masks", type=int, default=2000, help="masks per bucket")
    parser.add_argument("--pairs", type=int, default=1000, help="image pairs to score")
    parser.add_argument("--batch", type=int, default=25)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    for bucket, seconds in enumerate(time_masks(args.size, args.masks)):
        print(f"masks  bucket {masks.BUCKET_LABELS[bucket]:11s} {args.masks} at {args.size}²: {seconds:6.2f} s (one core)")
    seconds = time_metrics(args.size, args.pairs, args.batch)
    print(f"metrics {args.pairs} pairs at {args.size}², batch {args.batch}, {threads} threads: {seconds:6.2f} s "
          f"({args.pairs / seconds:.1f} pairs/s)")


if __name__ == "__main__":
    main()
