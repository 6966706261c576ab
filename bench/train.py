"""One trainer for every Method: data stream, checkpoints, exact resume, logging, multi-process.

The data stream is a pure function of (seed, step): step s trains on the global sample numbers
s·B … s·B+B−1 (B = the global batch); sample g is image perm_e[g mod N] of epoch e = g div N
(perm_e a seeded permutation), augmented and masked with numpy default_rng([seed, g]). So a
resumed run restarts the stream exactly where the checkpoint left it, and under torchrun each
process takes its contiguous slice of every global batch (their union is the one-process batch;
the Method averages gradients in `optimize`). Only rank 0 writes to the run folder.

A checkpoint holds every network and optimiser, the method's extra state, the step, the data
position and every process's RNG states (torch CPU and CUDA, numpy, python), so rerunning the
same command after a crash continues bit-identically (on CPU; cuDNN kernels may not be
deterministic on GPU). Resume takes the newest checkpoint that matches its recorded checksum
(bench.runs); a bad one is set aside, saying so.

With `train.validate_every`, rank 0 scores the generator on a fixed test subset every N steps and
at the end (bench.validation: validation.csv and TensorBoard), leaving training bit-identical.

Rank 0 checks every logged step and validation for signs of divergence (bench.divergence: a loss
jump, a validation drop, a collapsed output), says each on stderr and records it
(divergence.csv); with `train.stop_on_divergence` every process stops at the first, before that
step's checkpoint, and the manifest records the step (such a run is failed and not resumed).

Rank 0 holds the run folder's lock (bench.lock) from before the folder is opened until the
process ends, records the train and test split lists' checksums in the manifest (a resume on a
different split is refused), and marks the run failed with its one-line error on any exception
or Ctrl-C, set-up included.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from bench import config as config_module
from bench import distributed, divergence, lock, methods, runs, validation
from bench.config import Config
from bench.data import augment, datasets, masks, splits
from bench.data.images import color_jitter, to_image, to_tensor
from bench.method import Method, MethodSpec
from bench.records import checkpoint as checkpoint_record
from bench.records import divergence as divergence_record
from bench.records import validation as validation_record
from bench.setup import (command_overrides, describe_device, fresh_method, method_spec, open_data,
                         resolve_device, say)

PERMUTATION_TAG = 0x7065726D  # keeps the epoch-order seeds apart from the per-sample seeds
PREVIEW_TAG = 0x76696577
PREVIEW_IMAGES = 4
PEN_NET_JITTER = 0.05  # ColorJitter(0.05, 0.05, 0.05, 0.05) in PEN-Net's core/dataset.py


class TrainingError(RuntimeError):
    """Training stopped: a non-finite loss or weight, or a batch that does not split."""


class Diverged(TrainingError):
    """Training stopped at a sign of divergence (train.stop_on_divergence)."""


# --- the data stream ---------------------------------------------------------------------------
class TrainStream(Dataset):
    """Global sample number g → (image 3HW, mask 1HW, g), a pure function of (seed, g)."""

    def __init__(self, dataset: datasets.ImageDataset, *, seed: int, mask_kind: str,
                 mask_augment: bool = False, color_jitter: bool = False,
                 resize_crop: int | None = None, rotation: int = 0, zoom: int = 1) -> None:
        self.dataset, self.seed, self.mask_kind, self.mask_augment = dataset, seed, mask_kind, mask_augment
        self.color_jitter, self.resize_crop, self.rotation, self.zoom = color_jitter, resize_crop, rotation, zoom
        self._epoch, self._order = -1, np.empty(0, dtype=np.int64)

    def order(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, epoch, PERMUTATION_TAG])
            self._epoch, self._order = epoch, rng.permutation(len(self.dataset))
        return self._order

    def __getitem__(self, g: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        epoch, position = divmod(g, len(self.dataset))
        rng = np.random.default_rng([self.seed, g])
        item = augment.train_item(self.dataset, int(self.order(epoch)[position]), rng,
                                  resize_crop=self.resize_crop, rotation=self.rotation, zoom=self.zoom)
        mask = masks.training_mask(self.mask_kind, self.dataset.size, rng, augment=self.mask_augment)
        image = item["image"]
        if self.color_jitter:
            # departure: jittered after the resize to size² (PEN-Net: before it); drawn after the
            # mask, so switching it leaves the masks as they were.
            image = to_tensor(color_jitter(to_image(image), PEN_NET_JITTER, rng))
        return image, torch.from_numpy(mask)[None], g


class StepBatches(Sampler[list[int]]):
    """For steps start … end−1, this process's slice of each global batch of sample numbers."""

    def __init__(self, start: int, end: int, global_batch: int, rank: int, world: int) -> None:
        self.start, self.end = start, end
        self.global_batch, self.per_process = global_batch, global_batch // world
        self.offset = rank * self.per_process

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.end):
            first = step * self.global_batch + self.offset
            yield list(range(first, first + self.per_process))

    def __len__(self) -> int:
        return self.end - self.start


def global_batch_size(config: Config, world: int) -> int:
    """The samples of one optimisation step over all processes (see bench.config)."""
    batch = config.train.batch_size
    if config.train.batch_size_scope == "per_process":
        return batch * world
    if batch % world:
        raise TrainingError(
            f"train.batch_size {batch} (global) does not divide evenly over {world} processes; "
            "pick a multiple or set train.batch_size_scope: per_process"
        )
    return batch


# --- seeds and RNG state ----------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def process_seed(seed: int, rank: int) -> int:
    """The seed of a process's own randomness (dropout, noise), distinct per rank."""
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


# --- the trainer -------------------------------------------------------------------------------
def train(config: Config, *, run_dir: Path, command: list[str] | None = None,
          progress: bool = True) -> Path:
    """Train `config`'s method into `run_dir` (created, or resumed if unfinished); return it."""
    if methods.entry(config.method.name).training_free:
        raise TrainingError(f"method {config.method.name!r} is a training-free reference: nothing to "
                            "train; evaluate it with `inpaint-bench evaluate CONFIG`")
    device_type = resolve_device(config.train.device)
    owns_group = not distributed.is_distributed()
    device = distributed.setup(device_type)
    try:
        prepared = prepare(config, Path(run_dir), device)  # before the run folder exists
        with contextlib.ExitStack() as held:
            distributed.on_rank_zero(lambda: held.enter_context(lock.hold(Path(run_dir), say)))
            Trainer(config, Path(run_dir), device, command or runs.command_line(), progress, prepared).run()
    finally:
        if owns_group:
            distributed.teardown()
    return Path(run_dir)


Prepared = tuple[datasets.ImageDataset, MethodSpec, Method]


def prepare(config: Config, run_dir: Path, device: torch.device) -> Prepared:
    """The training data, the method's spec and the built method: everything that can fail
    without a run folder (an unknown method or dataset, a missing data root, a size the method
    cannot run at), done before the folder is created, so such a failure leaves nothing behind."""
    methods.entry(config.method.name)  # an unknown name, before the data is read
    dataset = open_data(config, "train")
    spec = method_spec(config, _mean_pixel(runs.RunFolder(run_dir), dataset))
    method = fresh_method(config.method.name, spec, device)
    check_runs_at_size(method, spec.image_size, device)
    return dataset, spec, method


def _mean_pixel(run: runs.RunFolder, dataset: datasets.ImageDataset) -> tuple[float, float, float]:
    """The train split's mean colour: from method.json when resuming, else computed once."""
    mean = distributed.on_rank_zero(
        lambda: tuple(run.read_method_card()["mean_pixel"]) if run.method_file.is_file()
        else datasets.mean_pixel(dataset))
    return distributed.broadcast_object(mean)


def check_runs_at_size(method: Method, size: int, device: torch.device) -> None:
    """One inference of a blank size² image, so that a size the method cannot run at fails here
    rather than at the first step; the RNG streams and every module's train/eval mode are left
    as they were."""
    modes = [(module, module.training) for net in method.networks.values() for module in net.modules()]
    image = torch.zeros(1, 3, size, size, device=device)
    hole = torch.zeros(1, 1, size, size, device=device)
    hole[..., size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode():
            method.eval()
            method.inpaint(image, hole)
    finally:
        for module, training in modes:
            module.training = training


class Trainer:
    def __init__(self, config: Config, run_dir: Path, device: torch.device,
                 command: list[str], progress: bool, prepared: Prepared) -> None:
        self.config, self.device, self.progress = config, device, progress
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.global_batch = global_batch_size(config, self.world)
        self.cuda = device.type == "cuda"
        self.dataset, self.spec, self.method = prepared
        self.run_folder = self._open_run(run_dir, command)
        with self.failing():
            distributed.on_rank_zero(self._bind_split)
            if self.rank == 0:
                description = methods.entry(config.method.name).description
                runs.write_method_card(self.run_folder, self.method, description, self.spec.mean_pixel)
            self.channels_last = self._gpu_option("channels_last")
            self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16)
                             if self._gpu_option("bf16") else contextlib.nullcontext())
            if self.channels_last:
                self.method.channels_last()
            self.validator = (validation.Validator(config, device)
                              if config.train.validate_every is not None and self.rank == 0 else None)
        self.last_checkpoint: Path | None = None

    @contextlib.contextmanager
    def failing(self) -> Iterator[None]:
        """Any exception or Ctrl-C inside marks the run failed with its one-line error (rank 0;
        when even that cannot be written, `runs.run_status` still reads it as failed)."""
        try:
            yield
        except BaseException as error:
            if self.rank == 0:
                message = str(error) or "interrupted (Ctrl-C); rerun the same command to resume"
                with contextlib.suppress(Exception):
                    runs.fail_run(self.run_folder, message.splitlines()[0])
            raise

    def _bind_split(self) -> None:
        """Record the split lists' checksums (first start) or refuse a different train split."""
        current = {"train": splits.fingerprint(self.dataset.ids),
                   "test": splits.fingerprint(open_data(self.config, "test").ids)}
        recorded = self.run_folder.read_manifest().split
        if recorded is None:
            self.run_folder.update_manifest(split=current)
        elif recorded["train"] != current["train"]:
            raise TrainingError(splits.mismatch(self.run_folder.manifest_file, "train",
                                                recorded["train"], current["train"]))

    # --- set-up ---
    def _open_run(self, run_dir: Path, command: list[str]) -> runs.RunFolder:
        """Rank 0 creates or reopens the folder; its error, if any, stops every process."""
        distributed.on_rank_zero(lambda: runs.open_run(
            run_dir, self.config, command=command, device=describe_device(self.device),
            world_size=self.world))
        return runs.RunFolder(run_dir)

    def _gpu_option(self, name: str) -> bool:
        wanted = getattr(self.config.train, name)
        if wanted and not self.cuda:
            self.note(f"train.{name} applies on GPU only; ignored on {self.device.type}")
        return wanted and self.cuda

    def note(self, message: str) -> None:
        if self.rank == 0:
            say(message)

    def _resume(self) -> int:
        """Load the newest checkpoint that verifies (every process reads rank 0's choice; bad
        ones are set aside) and refuse it when another run wrote it; return its step."""
        found = runs.newest_good_checkpoint(self.run_folder, self.note) if self.rank == 0 else None
        path = distributed.broadcast_object(None if found is None else found[0])
        if path is None:
            seed_everything(process_seed(self.config.train.seed, self.rank))
            return 0
        # RNG states must stay on CPU
        state = (checkpoint_record.from_state(path, found[1]) if self.rank == 0
                 else checkpoint_record.load(path, map_location="cpu"))
        foreign = state.not_of(self.run_folder.read_manifest().identity)
        if foreign:
            raise TrainingError(f"{path}: {foreign}; nothing was resumed: move it out of "
                                f"{self.run_folder.checkpoints} to resume from this run's own checkpoints")
        if state.global_batch != self.global_batch:
            raise TrainingError(
                f"{path}: written with a global batch of {state.global_batch}, this run has "
                f"{self.global_batch} ({self.world} process(es)); the data stream cannot continue "
                "exactly: resume with as many processes, or set train.batch_size_scope: global")
        self.method.load_state_dict(state.method)
        if len(state.rng) == self.world:
            set_rng_state(state.rng[self.rank])
        else:
            seed_everything(process_seed(self.config.train.seed + state.step, self.rank))
            self.note(f"{path.name} was written by {len(state.rng)} process(es), this run has "
                      f"{self.world}: the data stream continues exactly, the methods' own "
                      "randomness is reseeded")
        self.last_checkpoint = path
        self.note(f"resuming from {path} (step {state.step})")
        return state.step

    def _loader(self, start: int) -> DataLoader:
        stream = TrainStream(self.dataset, seed=self.config.train.seed,
                             mask_kind=self.config.data.train_masks,
                             mask_augment=self.config.data.mask_augment,
                             color_jitter=self.config.data.color_jitter,
                             resize_crop=self.config.data.train_resize_crop,
                             rotation=self.config.data.train_rotation, zoom=self.config.data.train_zoom)
        sampler = StepBatches(start, self.config.train.iterations, self.global_batch,
                              self.rank, self.world)
        # Its own generator: a loader draws a seed for its workers when iterated, which would
        # otherwise advance the global torch RNG differently in a resumed run.
        return DataLoader(stream, batch_sampler=sampler, num_workers=self.config.train.num_workers,
                          pin_memory=self.cuda, generator=torch.Generator().manual_seed(0))

    # --- the loop ---
    def run(self) -> None:
        with self.failing():
            start = self._resume()
            self.method.distribute()  # DDP wrappers (under torchrun) around the resumed weights
            total = self.config.train.iterations
            logger = Logger(self, start) if self.rank == 0 else None
            try:
                if start < total:
                    self._loop(start, logger)
            finally:
                if logger is not None:
                    logger.close()
            if self.rank == 0:
                runs.finish_run(self.run_folder)
        distributed.barrier()

    def _loop(self, start: int, logger: Logger | None) -> None:
        settings = self.config.train
        self.method.train()
        for step, (images, hole_masks, _) in zip(range(start, settings.iterations), self._loader(start)):
            images = self._to_device(images)
            hole_masks = self._to_device(hole_masks)
            with self.autocast:
                losses = self.method.train_step(images, hole_masks, step)
            losses = distributed.mean_across(losses)
            done = step + 1
            self._check_losses(done, losses)
            signals = logger.step(done, losses) if logger is not None else []
            validating = validation.due(self.config, done)
            if self.validator is not None and validating:
                signals += logger.validation(self.validator.run(self.method, done))
            if settings.stop_on_divergence and (logged(settings, done) or validating):
                self._stop_if_diverged(done, signals)
            if done % settings.checkpoint_every == 0 or done == settings.iterations:
                self.save(done)

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(self.device, non_blocking=True)
        return tensor.contiguous(memory_format=torch.channels_last) if self.channels_last else tensor

    def _check_losses(self, step: int, losses: dict[str, float]) -> None:
        """`step` counts from 1, as losses.csv and the checkpoint names do."""
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            shown = ", ".join(f"{k}={v}" for k, v in bad.items())
            raise TrainingError(f"step {step}: non-finite loss ({shown}); training stopped. "
                                f"{self._last_good()}")

    def _stop_if_diverged(self, step: int, signals: list[divergence.Signal]) -> None:
        """Stop every process at rank 0's first sign of divergence, before this step's checkpoint."""
        first = distributed.broadcast_object(signals[0] if signals else None)
        if first is None:
            return
        if self.rank == 0:
            self.run_folder.update_manifest(diverged_at=step)
        raise Diverged(f"step {step}: stopped on divergence (train.stop_on_divergence): {first.message}. "
                       f"{self._last_good()}")

    def _last_good(self) -> str:
        if self.last_checkpoint is None:
            return "No checkpoint was written before it."
        return f"Last good checkpoint: {self.last_checkpoint}."

    def save(self, step: int) -> None:
        for name, network in self.method.networks.items():
            if not all(torch.isfinite(p).all() for p in network.parameters()):
                raise TrainingError(f"step {step}: network {name!r} has non-finite weights; "
                                    f"training stopped. {self._last_good()}")
        states = distributed.gather_objects(rng_state())
        if self.rank == 0:
            self.last_checkpoint = checkpoint_record.save(self.run_folder, checkpoint_record.Checkpoint(
                step=step, global_batch=self.global_batch, method_name=self.config.method.name,
                spec=self.spec, method=self.method.state_dict(), rng=states,
                run=self.run_folder.read_manifest().identity,
            ), self.config.train.keep_last)
        distributed.barrier()

    # --- previews ---
    def preview(self) -> torch.Tensor:
        """A grid (3×H×W in [0, 1]): inputs with white holes, composites, truths, in rows."""
        count = min(PREVIEW_IMAGES, len(self.dataset))
        images = torch.stack([self.dataset[i]["image"] for i in range(count)]).to(self.device)
        holes = torch.stack([
            torch.from_numpy(masks.training_mask(
                self.config.data.train_masks, self.config.data.size,
                np.random.default_rng([self.config.train.seed, i, PREVIEW_TAG])))[None]
            for i in range(count)
        ]).to(self.device)
        devices = [self.device] if self.cuda else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            self.method.eval()
            output = self.method.inpaint(images, holes).float()
            self.method.train()
        composite = images * (1 - holes) + output * holes
        shown = images * (1 - holes) + holes
        rows = [torch.cat(list(batch), dim=2) for batch in (shown, composite, images)]
        return ((torch.cat(rows, dim=1) + 1) / 2).clamp(0, 1).cpu()


def logged(settings: config_module.TrainConfig, step: int) -> bool:
    """Whether 1-based `step` writes its losses to losses.csv (every N, and the last)."""
    return step % settings.log_every == 0 or step == settings.iterations


class Logger:
    """Rank 0's progress bar, TensorBoard scalars and previews, losses.csv, and the divergence
    watch over what it logs (bench.divergence; said and recorded in divergence.csv)."""

    def __init__(self, trainer: Trainer, start: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.trainer = trainer
        self.train = trainer.config.train
        folder = trainer.run_folder
        runs.truncate_losses(folder, start + 1)
        validation_record.truncate(folder.validation_file, start + 1)
        divergence_record.truncate(folder.divergence_file, start + 1)
        self.watch = self._watch_replayed(trainer.method.watched_losses)
        self.writer = SummaryWriter(str(trainer.run_folder.tb), purge_step=start + 1)
        self.bar = tqdm(total=self.train.iterations, initial=start, unit="step",
                        disable=not trainer.progress, dynamic_ncols=True)
        self.sums: dict[str, tuple[float, int]] = {}  # loss → (sum, steps reporting it)
        self.steps = 0
        self.window_start = time.perf_counter()

    def _watch_replayed(self, watched: tuple[str, ...] | None) -> divergence.Watch:
        """A divergence watch that has seen the run's kept losses and validations (a resumed
        run's watch is the one an uninterrupted run would have)."""
        watch = divergence.Watch(watched)
        folder = self.trainer.run_folder
        logged_steps: dict[int, dict[str, float]] = {}
        for row in runs.read_losses(folder.losses_file) if folder.losses_file.is_file() else []:
            logged_steps.setdefault(int(row["step"]), {})[row["name"]] = float(row["value"])
        for step, means in logged_steps.items():
            watch.losses(step, means)
        frame = validation_record.read(folder.validation_file)
        for step, rows in ([] if frame is None else frame.groupby("step", sort=True)):
            watch.validation(int(step), rows.to_dict("records"))
        return watch

    def step(self, done: int, losses: dict[str, float]) -> list[divergence.Signal]:
        """Count one step's losses; at a logged step, log them; return the signs of divergence."""
        for name, value in losses.items():
            total, count = self.sums.get(name, (0.0, 0))
            self.sums[name] = (total + value, count + 1)
        self.steps += 1
        self.bar.update(1)
        signals = self.flush(done) if logged(self.train, done) else []
        if done % self.train.sample_every == 0:
            self.writer.add_image("samples", self.trainer.preview(), done)
        return signals

    def flush(self, done: int) -> list[divergence.Signal]:
        """Log each loss's mean over the steps since the last log that reported it, at `done`;
        return the loss signals of divergence it shows."""
        means = {name: total / count for name, (total, count) in self.sums.items()}
        elapsed = time.perf_counter() - self.window_start
        speed = self.steps * self.trainer.global_batch / max(elapsed, 1e-9)
        runs.append_losses(self.trainer.run_folder, done, means)
        for name, value in means.items():
            self.writer.add_scalar(f"loss/{name}", value, done)
        self.writer.add_scalar("speed/images_per_s", speed, done)
        self.bar.set_postfix({**{k: f"{v:.4g}" for k, v in means.items()}, "img/s": f"{speed:.1f}"})
        self.sums, self.steps = {}, 0
        self.window_start = time.perf_counter()
        return self.report(self.watch.losses(done, means))

    def validation(self, rows: list[dict[str, object]]) -> list[divergence.Signal]:
        """validation.csv and TensorBoard's validation/<setting>/<metric> scalars; return the
        validation and collapse signals of divergence."""
        validation_record.append(self.trainer.run_folder.validation_file, rows)
        for row in rows:
            for column in validation_record.COLUMNS[2:]:
                self.writer.add_scalar(f"validation/{row['setting']}/{column}", row[column], row["step"])
        say(validation_record.last_line(self.trainer.run_folder.validation_file))
        return self.report(self.watch.validation(int(rows[0]["step"]), rows))

    def report(self, signals: list[divergence.Signal]) -> list[divergence.Signal]:
        """Say each sign of divergence on stderr and record it in divergence.csv."""
        if signals:
            divergence_record.append(self.trainer.run_folder.divergence_file, signals)
        for signal in signals:
            say(f"divergence at step {signal.step}: {signal.message}")
        return signals

    def close(self) -> None:
        self.writer.close()
        self.bar.close()


# --- command line ------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    config = config_module.load(args.config, command_overrides(args))
    run_dir = args.run_dir or runs.run_dir_for(config, args.runs_root)
    train(config, run_dir=run_dir, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":
        print(f"trained {run_dir}")
    return 0
