"""Validation during training: the current generator scored on a fixed subset of the test split.

Every `train.validate_every` steps and at the end, the trainer (rank 0) scores the first
`train.validate_count` test images under each of `train.validate_masks` (the centre square and one
irregular bucket by default) through the evaluator's own code path (`bench.evaluate`'s fixed test
masks, `scored_batches`, `bench.metrics`) and logs the means to validation.csv
(bench.records.validation) and TensorBoard, with the spread of the predictions across the images
(bench.divergence's collapse check); a prediction holding NaN or inf stops training with one
line naming the step and setting (bench.evaluate.NonFiniteOutput). It is a monitor only: it
never selects a checkpoint, and it leaves training exactly as it was (every RNG state forked
and restored, the networks back in training mode), so a run ends with the same weights with
validation on or off.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import DataLoader

from bench import divergence, metrics
from bench.config import Config
from bench.data import masks
from bench.evaluate import MaskedImages, NonFiniteOutput, scored_batches, test_mask_set
from bench.method import Method
from bench.setup import open_data


def due(config: Config, step: int) -> bool:
    """Whether 1-based `step` is a validation step (every N, and the last)."""
    every = config.train.validate_every
    return every is not None and (step % every == 0 or step == config.train.iterations)


class Validator:
    """The fixed validation subset of one run, scored on demand."""

    def __init__(self, config: Config, device: torch.device) -> None:
        self.config, self.device = config, device
        metrics.msssim_window(config.data.size)  # a size the metrics cannot score fails now, not at step N
        dataset = open_data(config, "test")
        count = min(config.train.validate_count, len(dataset))
        self.loaders = {
            name: DataLoader(MaskedImages(dataset, test_mask_set(config, masks.EvalSetting(name), count),
                                          list(range(count))),
                             batch_size=config.eval.batch_size, num_workers=0)
            for name in config.train.validate_masks
        }

    def run(self, method: Method, step: int) -> list[dict[str, object]]:
        """One row per setting (bench.records.validation's columns) for `method` at `step`."""
        found = []
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            method.eval()
            try:
                for name, loader in self.loaders.items():
                    start = time.perf_counter()
                    try:
                        batches = list(scored_batches(method, loader, self.device, seed=self.config.eval.mask_seed))
                    except NonFiniteOutput as error:
                        raise NonFiniteOutput(f"validation at step {step}, {name}: {error}; training stopped") from None
                    means = {k: float(np.concatenate([s[k] for _, _, s in batches]).mean()) for k in metrics.METRICS}
                    spread = divergence.spread(torch.cat([c for _, c, _ in batches]),
                                               torch.cat([b["mask"] for b, _, _ in batches]))
                    found.append({"step": step, "setting": name,
                                  **{column: means[m] for column, m in metrics.TABLE_METRICS.items()},
                                  "spread": spread, "seconds": round(time.perf_counter() - start, 3)})
            finally:
                method.train()
        return found
