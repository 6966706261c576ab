"""How fast the training-free references inpaint: images per second of each one's `inpaint`
(what evaluation spends on the method) per size and mask setting.

    python -m bench.benchmarks.reference_speed [--size 64,256] [--count 8] [--methods NAME,…]

The registry's training-free methods by default, on the sample test images with the evaluator's
fixed masks. What it prints is also written, with the environment, to `--out`
(bench/benchmarks/record.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from bench import config as config_module
from bench import methods
from bench.benchmarks.record import DEFAULT_DIR, Record
from bench.data import masks
from bench.evaluate import MaskedImages, test_mask_set
from bench.setup import method_without_data, open_data


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default=",".join(methods.TRAINING_FREE),
                        help="registry names, comma-separated (default: every training-free method)")
    parser.add_argument("--size", default="64,256", help="image sides, comma-separated (default 64,256)")
    parser.add_argument("--count", type=int, default=8, help="test images per setting (default 8)")
    parser.add_argument("--settings", default="center,irregular_3", help="eval mask settings (default center,irregular_3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help=f"folder for the JSON + CSV of the figures (default {DEFAULT_DIR})")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    record = Record("reference_speed", vars(args), "cpu")
    record.say(f"training-free references on cpu, torch threads {torch.get_num_threads()}, "
               f"{args.count} sample test images per setting")
    for size in (int(s) for s in args.size.split(",")):
        for name in args.methods.split(","):
            config = config_module.from_dict({"method": {"name": name}, "data": {"size": size},
                                              "train": {"device": "cpu"}})
            method = method_without_data(config).eval()
            dataset = open_data(config, "test")
            count = min(args.count, len(dataset))
            for setting_name in args.settings.split(","):
                setting = masks.EvalSetting(setting_name)
                loader = DataLoader(MaskedImages(dataset, test_mask_set(config, setting, count),
                                                 list(range(count))), batch_size=count)
                batch = next(iter(loader))
                images, holes = batch["image"], batch["mask"]
                start = time.perf_counter()
                with torch.inference_mode():
                    method.inpaint(images * (1 - holes), holes)
                seconds = time.perf_counter() - start
                record.say(f"{name:14s} {size:4d}² {setting_name:12s} {count / seconds:9.1f} img/s "
                           f"{1000 * seconds / count:9.2f} ms/img")
                record.add(method=name, size=size, setting=setting_name, images=count, seconds=seconds,
                           images_per_s=count / seconds, ms_per_image=1000 * seconds / count)
    record.write(args.out)


if __name__ == "__main__":
    main()
