"""Where evaluation time goes: data loading, the method's inference, compositing + metrics, and
writing rows and sample PNGs; plus the peak resident memory of this process and its workers.

    python -m bench.benchmarks.eval_speed [--method toy] [--size 256] [--count 48] …

The method is built with fresh seeded weights (speed does not depend on them); "toy" is the
test suite's two-layer inpainter (tests/toy_method.py, needs the repository checkout).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from bench import config as config_module
from bench import methods
from bench.data import masks
from bench.evaluate import (MaskedImages, RowWriter, Timings, row_constants, save_samples,
                            scored_batches, test_mask_set)
from bench.train import build_method, method_spec, open_data, resolve_device


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="toy", help="a registry name (default toy)")
    parser.add_argument("--dataset", default="sample")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--count", type=int, default=48, help="test images (default 48)")
    parser.add_argument("--setting", default="irregular_3", help="center or irregular_<k>")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8, help="sample PNGs saved (default 8)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    return parser.parse_args()


def register_toy() -> None:
    """Register the test suite's toy method (tests/toy_method.py of the checkout)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "tests" / "toy_method.py").is_file():
        raise SystemExit(f"{root}/tests/toy_method.py not found: the toy method needs the "
                         "repository checkout; pass --method NAME for a registered method")
    sys.path.insert(0, str(root))
    from tests import toy_method

    toy_method.register()


def main() -> None:
    args = arguments()
    if args.method == "toy" and "toy" not in methods.REGISTRY:
        register_toy()
    config = config_module.from_dict({
        "method": {"name": args.method},
        "data": {"dataset": args.dataset, "root": args.data_root, "size": args.size},
        "train": {"device": args.device},
        "eval": {"masks": [args.setting], "count": args.count, "batch_size": args.batch_size,
                 "num_workers": args.num_workers, "samples_to_save": args.samples},
    })
    device = torch.device(resolve_device(config.train.device))
    method = build_method(config, method_spec(config, (0.0, 0.0, 0.0)), device).eval()
    dataset = open_data(config, "test")
    count = min(args.count, len(dataset))
    setting = masks.EvalSetting(args.setting)
    loader = DataLoader(MaskedImages(dataset, test_mask_set(config, setting, count), list(range(count))),
                        batch_size=args.batch_size, num_workers=args.num_workers,
                        pin_memory=device.type == "cuda")
    timings, writing = Timings(), 0.0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        writer = RowWriter(Path(folder) / "rows.csv", row_constants(config, method, "none"))
        for batch, composite, scores in scored_batches(method, loader, device, seed=0, timings=timings):
            clock = time.perf_counter()
            save_samples(Path(folder) / "samples", batch, composite, args.samples)
            writer.write(batch, scores, setting)
            writing += time.perf_counter() - clock
    total = time.perf_counter() - started
    parts = {"data loading (waiting on workers)": timings.data, "inference": timings.inference,
             "composite + metrics": timings.scoring, "rows + sample PNGs": writing}
    print(f"method {args.method} on {device}, {args.dataset} {args.size}², {count} images, "
          f"setting {args.setting}, batch {args.batch_size}, {args.num_workers} workers, "
          f"torch threads {torch.get_num_threads()}")
    for name, seconds in parts.items():
        print(f"  {name:34s} {seconds:8.3f} s  {100 * seconds / total:5.1f} %  "
              f"{1000 * seconds / count:7.2f} ms/img")
    print(f"  {'total':34s} {total:8.3f} s  {count / total:8.1f} img/s")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak RSS: this process {own:.0f} MiB, largest worker {workers:.0f} MiB")


if __name__ == "__main__":
    main()
