"""What limits learning on the embedded data: one training run per probe setting, scored on a
held-out validation subset (never the test split), printed and appended to a CSV.

The validation subset: the train halves of one source per domain (gravel, rocket, grace_hopper,
camera), held out of training for the probe, two fixed corner crops each at the test scale
(8 images), under the centre square and the irregular (0.3, 0.4] bucket with the evaluator's fixed
masks. Training takes random crops of the other eight sources' train halves (or of all twelve with
--all-sources, when the probe asks what the final profile will see). Each probe row gives the
training loss (mean of the last 10% of steps) beside the validation PSNR, with the mean fill and
Telea on the same validation images as the floor.

    python -m bench.benchmarks.learning_probe --method srpnet --steps 1500 --lr 1e-4 --out probe.csv
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from bench import methods
from bench.data import datasets, masks, sample
from bench.data.images import to_tensor
from bench.evaluate import mean_psnr
from bench.method import MethodSpec
from bench.records import checkpoint as checkpoint_record
from bench.train import TrainStream

VALIDATION_SOURCES = ("skimage:gravel", "skimage:rocket", "matplotlib:grace_hopper.jpg", "skimage:camera")
SETTINGS = ("center", "irregular_3")


def training_set(size: int, held_out: bool) -> datasets.SampleDataset:
    """The sample train split, less the validation sources unless `held_out` is False."""
    dataset = datasets.open_dataset("sample", "train", size=size)
    keep = [i for i, region in enumerate(dataset.regions) if not (held_out and region.source in VALIDATION_SOURCES)]
    for name in ("regions", "offsets", "ids", "domains"):
        setattr(dataset, name, [getattr(dataset, name)[i] for i in keep])
    return dataset


def validation_images(size: int) -> torch.Tensor:
    crops = []
    for domain, (_, names) in sample.DOMAINS.items():
        for source in names:
            if source in VALIDATION_SOURCES:
                region = sample.halves(source, domain, size)[0]
                crops += [to_tensor(sample.crop(region, size, *xy)) for xy in sample.test_crop_offsets(region, size)]
    return torch.stack(crops)


def validation_masks(setting: str, size: int, count: int) -> torch.Tensor:
    kind = masks.EvalSetting(setting)
    found = masks.test_masks(kind.kind, size, bucket=kind.bucket_index, count=count, seed=0)
    return torch.stack([torch.from_numpy(found[i][1])[None] for i in range(count)])


def scored_images(size: int, on: str) -> torch.Tensor:
    """The images a probe scores: the held-out validation crops, or (a diagnostic of a trained
    run, never a recipe choice) the sample test split, image i under the evaluator's mask i."""
    if on == "held-out":
        return validation_images(size)
    test = datasets.open_dataset("sample", "test", size=size)
    return torch.stack([test[i]["image"] for i in range(len(test))])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default=methods.REFERENCE)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--adversarial", type=float, default=None, help="adversarial weight (default: the method's)")
    parser.add_argument("--pyramid", type=float, default=None, help="pyramid weight (default: the method's)")
    parser.add_argument("--zoom", type=int, default=1, help="data.train_zoom: training crops at a zoom of 1…N")
    parser.add_argument("--all-sources", action="store_true", help="train on all twelve sources")
    parser.add_argument("--masks", default="mixed")
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", type=Path, help="continue this run checkpoint (its method, weights and optimiser "
                        "state; --lr replaces its learning rate; its data stream goes on): what more steps or a decay do")
    parser.add_argument("--score-on", choices=("held-out", "test"), default="held-out",
                        help="test: the sample test split, a diagnostic of a trained run only (recipes are chosen "
                             "on held-out)")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    options = {"lr": args.lr, **({} if args.adversarial is None else {"adversarial_weight": args.adversarial}),
               **({} if args.pyramid is None else {"pyramid_weight": args.pyramid})}
    first = 0
    if args.init is None:
        spec = MethodSpec(image_size=args.size, iterations=args.steps, dataset="sample", seed=args.seed,
                          options=options)
        method = methods.create(args.method, spec)
    else:
        checkpoint = checkpoint_record.load(args.init)
        first, args.method = checkpoint.step, checkpoint.method_name
        spec = dataclasses.replace(checkpoint.spec, iterations=checkpoint.step + args.steps,
                                   options={**checkpoint.spec.options, **options})
        method = methods.create(args.method, spec)
        method.load_state_dict(checkpoint.method)
    weights = getattr(method, "loss_weights", {})  # the weights in force (None: the method has none)
    images = scored_images(args.size, args.score_on)
    held = {s: validation_masks(s, args.size, len(images)) for s in SETTINGS}
    floors = {}
    for name in methods.FLOOR_REFERENCES:
        ref = methods.create(name, MethodSpec(image_size=args.size, dataset="sample"))
        floors[name] = {s: mean_psnr(ref, images, held[s], seed=args.seed) for s in SETTINGS}
    pool = training_set(args.size, held_out=not args.all_sources)
    stream = TrainStream(pool, seed=args.seed, mask_kind=args.masks, zoom=args.zoom)  # the trainer's own
    recent: list[float] = []
    start = time.perf_counter()
    new = not args.out.exists()
    with args.out.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["label", "method", "size", "batch", "lr", "adversarial", "pyramid", "zoom",
                             "sources", "step", "train_hole_l1", "val_center_psnr", "val_irregular3_psnr",
                             "meanfill_center", "telea_center", "meanfill_irr3", "telea_irr3", "seconds",
                             "scored_on", "init"])
        for step in range(args.steps):
            items = [stream[(first + step) * args.batch + k] for k in range(args.batch)]
            batch_images, batch_holes = torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items])
            logs = method.train_step(batch_images, batch_holes, first + step)
            recent.append(logs.get("g_hole", next(iter(logs.values()))))
            done = step + 1
            if done % args.every == 0 or done == args.steps:
                scores = {s: mean_psnr(method, images, held[s], seed=args.seed) for s in SETTINGS}
                window = recent[-max(1, args.every // 2):]
                row = [args.label, args.method, args.size, args.batch, args.lr,
                       weights.get("adversarial"), weights.get("pyramid"), args.zoom,
                       len(pool), first + done, round(float(np.mean(window)), 4),
                       round(scores["center"], 3), round(scores["irregular_3"], 3),
                       *(round(floors[name][s], 3) for s in SETTINGS for name in methods.FLOOR_REFERENCES),
                       round(time.perf_counter() - start, 1), args.score_on, "" if args.init is None else args.init.name]
                writer.writerow(row)
                handle.flush()
                print(*row, flush=True)


if __name__ == "__main__":
    main()
