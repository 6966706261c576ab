"""Where evaluation time goes: data loading, the method's inference, compositing + metrics, and
writing rows and sample PNGs; plus the peak resident memory of this process and its workers.

    python -m bench.benchmarks.eval_speed [--method none|NAME] [--size 256] [--count 48] …

`--method none` (the default) runs no network: the prediction is the masked input, so the
figures are the harness's own cost. A registry NAME is built with fresh seeded weights (speed
does not depend on them). What it prints is also written, with the environment, to `--out`
(bench/benchmarks/record.py).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from bench import config as config_module
from bench.benchmarks.record import DEFAULT_DIR, Record
from bench.data import masks
from bench.evaluate import (MaskedImages, Timings, batch_rows, row_constants, sample_indices,
                            save_samples, scored_batches, test_mask_set)
from bench.method import Method
from bench.records import rows
from bench.runs import RunFolder
from bench.setup import method_without_data, open_data, resolve_device

NO_MODEL = "none"


class MaskedInput(Method):
    """No network: the prediction is the masked input itself (the benchmark never trains it)."""

    name = NO_MODEL

    def train_step(self, images, masks, step):
        raise RuntimeError("the eval_speed stand-in has no training step")

    def inpaint(self, images, masks):
        return images


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default=NO_MODEL,
                        help=f"a registry name, or {NO_MODEL} (default): no network, the harness's own cost")
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--count", type=int, default=48, help="test images (default 48)")
    parser.add_argument("--setting", default="irregular_3", help="center or irregular_<k>")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8, help="sample PNGs saved (default 8)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help=f"folder for the JSON + CSV of the figures (default {DEFAULT_DIR})")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    config = config_module.from_dict({
        "method": {"name": args.method},
        "data": {"dataset": args.dataset, "root": args.data_root, "size": args.size},
        "train": {"device": args.device},
        "eval": {"masks": [args.setting], "count": args.count, "batch_size": args.batch_size,
                 "num_workers": args.num_workers, "samples_to_save": args.samples},
    })
    device = torch.device(resolve_device(config.train.device))
    method = (MaskedInput() if args.method == NO_MODEL
              else method_without_data(config, device).eval())
    dataset = open_data(config, "test")
    count = min(args.count, len(dataset))
    setting = masks.EvalSetting(args.setting)
    loader = DataLoader(MaskedImages(dataset, test_mask_set(config, setting, count), list(range(count))),
                        batch_size=args.batch_size, num_workers=args.num_workers,
                        pin_memory=device.type == "cuda")
    chosen = sample_indices(dataset.domains[:count], args.samples)
    timings, writing = Timings(), 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        writer = rows.Writer(RunFolder(Path(folder)).rows_file)
        fixed = row_constants(config, method, "none", "none")
        for batch, composite, scores in scored_batches(method, loader, device, seed=0, timings=timings):
            clock = time.perf_counter()
            save_samples(Path(folder) / "samples", batch, composite, chosen)
            writer.write(batch_rows(fixed, batch, scores, setting))
            writing += time.perf_counter() - clock
    total = time.perf_counter() - started
    parts = {"data loading (waiting on workers)": timings.data, "inference": timings.inference,
             "composite + metrics": timings.scoring, "rows + sample PNGs": writing}
    record = Record("eval_speed", vars(args), device)
    record.say(f"method {args.method} on {device}, {args.dataset} {args.size}², {count} images, "
               f"setting {args.setting}, batch {args.batch_size}, {args.num_workers} workers, "
               f"torch threads {torch.get_num_threads()}")
    for name, seconds in parts.items():
        record.say(f"  {name:34s} {seconds:8.3f} s  {100 * seconds / total:5.1f} %  "
                   f"{1000 * seconds / count:7.2f} ms/img")
        record.add(part=name, seconds=seconds, ms_per_image=1000 * seconds / count, images=count)
    record.say(f"  {'total':34s} {total:8.3f} s  {count / total:8.1f} img/s")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    record.say(f"  peak RSS: this process {own:.0f} MiB, largest worker {workers:.0f} MiB")
    record.add(part="total", seconds=total, ms_per_image=1000 * total / count, images=count,
               peak_rss_mib=own, worker_peak_rss_mib=workers)
    record.write(args.out)

if __name__ == "__main__":
    main()
