"""What validation during training costs against training: the seconds of one validation (the
trainer's own bench.validation.Validator) beside the seconds of one training step, and the
overhead at a profile's schedule: validation / (validate_every × step).

    python -m bench.benchmarks.validation_cost [--method srpnet] [--size 256] [--batch 2]
        [--paper-batch 64] [--validate-every 5000] [--validate-count 16]

The step is timed at `--batch` and scaled linearly to `--paper-batch` (the paper's 64) when they
differ: on a CPU, where a batch of 64 at 256² does not fit a short run, a step's cost grows with
its batch; on a GPU give --batch 64 and nothing is scaled. What it prints is also written, with
the environment, to `--out` (bench/benchmarks/record.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench import config as config_module
from bench import methods
from bench.benchmarks.record import DEFAULT_DIR, Record
from bench.setup import method_without_data, resolve_device
from bench.validation import Validator


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default=methods.REFERENCE, choices=methods.names())
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2, help="batch of the timed training steps (default 2)")
    parser.add_argument("--paper-batch", type=int, default=64, help="the batch the overhead is stated at (default 64)")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps, after one untimed (default 2)")
    parser.add_argument("--validate-every", type=int, default=5000, help="the schedule's N (default 5000, paper profile)")
    parser.add_argument("--validate-count", type=int, default=16, help="validation images (default 16)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help=f"folder for the JSON + CSV of the figures (default {DEFAULT_DIR})")
    return parser.parse_args()


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    args = arguments()
    config = config_module.from_dict({
        "method": {"name": args.method}, "data": {"size": args.size},
        "train": {"device": args.device, "batch_size": args.batch, "validate_every": args.validate_every,
                  "validate_count": args.validate_count},
        "eval": {"batch_size": 8, "num_workers": 0}})
    device = torch.device(resolve_device(config.train.device))
    method = method_without_data(config, device).train()
    images = torch.rand(args.batch, 3, args.size, args.size, device=device) * 2 - 1
    holes = torch.zeros(args.batch, 1, args.size, args.size, device=device)
    holes[..., args.size // 4: 3 * args.size // 4, args.size // 4: 3 * args.size // 4] = 1
    method.train_step(images, holes, 0)
    synchronise(device)
    start = time.perf_counter()
    for step in range(args.steps):
        method.train_step(images, holes, step + 1)
    synchronise(device)
    step_s = (time.perf_counter() - start) / args.steps
    validator = Validator(config, device)
    validator.run(method, 0)  # untimed: first-call set-up
    start = time.perf_counter()
    rows = validator.run(method, 1)
    synchronise(device)
    validation_s = time.perf_counter() - start
    paper_step_s = step_s * args.paper_batch / args.batch
    overhead = validation_s / (args.validate_every * paper_step_s)
    record = Record("validation_cost", vars(args), device)
    record.say(f"{args.method} at {args.size}² on {device}, torch threads {torch.get_num_threads()}")
    record.say(f"  training step, batch {args.batch}: {step_s:.3f} s "
               f"→ batch {args.paper_batch}: {paper_step_s:.3f} s"
               + (" (scaled linearly with the batch)" if args.paper_batch != args.batch else ""))
    record.say(f"  one validation ({args.validate_count} images × {len(rows)} settings: "
               f"{', '.join(str(r['setting']) for r in rows)}): {validation_s:.3f} s")
    record.say(f"  overhead every {args.validate_every} steps: {validation_s:.3f} / ({args.validate_every} × "
               f"{paper_step_s:.3f}) = {100 * overhead:.4f} % of training time")
    record.add(step_s=step_s, batch=args.batch, paper_batch=args.paper_batch, paper_step_s=paper_step_s,
               validation_s=validation_s, validate_every=args.validate_every,
               validate_count=args.validate_count, overhead_pct=100 * overhead)
    record.write(args.out)


if __name__ == "__main__":
    main()
