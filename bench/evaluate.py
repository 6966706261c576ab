"""The evaluator: Method × dataset × mask setting → one metric row per image in eval/rows.csv.

For every setting of `eval.masks` (the centre square; irregular masks per hole-ratio bucket)
test image i is paired with the fixed mask i of bench.data.masks.test_masks (identical for every
method), the method's raw prediction is composited, (1 − m)·x + m·ŷ, and scored by
bench.metrics.score_batch. Rows are appended as batches are scored (nothing is held for the
whole split), so an interrupted evaluation resumes by skipping the rows already written. Under
torchrun each process scores its share of the images into its own part file, which rank 0
merges into rows.csv at the end. `eval.samples_to_save` images of each setting, spread evenly
over the evaluated images and their domains (`sample_indices`), are also saved as truth / input
(white holes) / output (composite) PNGs.

A run folder is evaluated from its checkpoint (by default the last, as its manifest recorded it),
holding the folder's lock (bench.lock) and only on the test split recorded in its manifest; a
checkpoint of another run (its recorded run identity says so) is refused, or with `foreign`
scored and labelled so in its rows; one checkpoint's rows are scored under one mask seed
(bench.records.rows.record_plan); an official baseline
checkpoint is evaluated through the method's `load_official(path)` hook into a fresh run folder,
and a training-free method (its registry entry says so) is built as it is into one.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from bench import config as config_module
from bench import distributed, lock, methods, metrics, runs
from bench.config import Config
from bench.data import datasets, masks, splits
from bench.records import checkpoint as checkpoint_record
from bench.records import rows
from bench.method import Method
from bench.setup import (command_overrides, describe_device, method_from_checkpoint,
                         method_from_official, method_spec, method_without_data, open_data,
                         resolve_device, say)

RUN_FOLDER_OVERRIDES = ("eval.", "train.device")
TRAINING_FREE_CHECKPOINT = "training-free"  # the rows' checkpoint column of a training-free method


class EvaluationError(RuntimeError):
    """An evaluation that cannot run as asked."""


class NonFiniteOutput(EvaluationError):
    """A method's prediction holding NaN or inf: refused, never composited and scored."""


def require_finite(method: Method, prediction: torch.Tensor, image_ids: Sequence[str] = ()) -> None:
    """Raise NonFiniteOutput, naming the method, the count and the first image, if any value of
    `prediction` (N3HW) is NaN or infinite."""
    bad = ~torch.isfinite(prediction)
    if bool(bad.any()):
        images = bad.flatten(1).any(dim=1).nonzero().flatten().tolist()
        first = f", first {image_ids[images[0]]}" if image_ids else ""
        raise NonFiniteOutput(f"method {method.name!r}: inpaint returned NaN or inf ({int(bad.sum())} of "
                              f"{bad.numel()} values, in {len(images)} of {len(bad)} images{first}); not scored")


# --- data --------------------------------------------------------------------------------------
class MaskedImages(Dataset):
    """Test images `indices` of a split, each with its fixed mask (image i ↔ mask i)."""

    def __init__(self, dataset: datasets.ImageDataset, mask_set: masks.MaskSet, indices: list[int]):
        self.dataset, self.mask_set, self.indices = dataset, mask_set, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> dict[str, Any]:
        i = self.indices[k]
        item = self.dataset[i]
        mask_id, mask = self.mask_set[i]
        return {"image": item["image"], "mask": torch.from_numpy(mask)[None], "index": i,
                "image_id": item["id"], "mask_id": mask_id, "domain": item["domain"]}


def test_mask_set(config: Config, setting: masks.EvalSetting, count: int) -> masks.MaskSet:
    return masks.test_masks(
        setting.kind, config.data.size, bucket=setting.bucket_index, count=count,
        seed=config.eval.mask_seed,
        nvidia_dir=None if config.data.nvidia_masks is None else Path(config.data.nvidia_masks),
        mask_dir=None if config.data.mask_dir is None else Path(config.data.mask_dir),
    )


# --- scoring -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Timings:
    """Seconds spent waiting for data, in the method's inference, and compositing + scoring."""

    data: float = 0.0
    inference: float = 0.0
    scoring: float = 0.0


def seed_batch(seed: int, first_index: int) -> None:
    """Seed torch's RNG for the batch whose first image is `first_index` (stochastic methods such
    as PIC-Net draw from it): the same seed and first image give the same draws."""
    torch.manual_seed(int(np.random.SeedSequence([seed, first_index]).generate_state(1)[0]))


def scored_batches(method: Method, loader: DataLoader, device: torch.device, *, seed: int,
                   timings: Timings | None = None) -> Iterator[tuple[dict[str, Any], torch.Tensor, dict[str, np.ndarray]]]:
    """Yield (batch, composite on CPU, scores) for each batch of a loader of MaskedImages.

    The method gets the images with their holes zeroed, so no method can leak the truth. A
    prediction holding NaN or inf is refused (NonFiniteOutput), never composited and scored.

    Each batch's randomness (stochastic methods such as PIC-Net) is seeded from `seed` and the
    batch's first image index, so a rerun with the same batch size gives the same rows.
    """
    timings = timings or Timings()
    clock = time.perf_counter()
    for batch in loader:
        images, holes = batch["image"].to(device), batch["mask"].to(device)
        now = time.perf_counter()
        timings.data += now - clock
        clock = now
        seed_batch(seed, int(batch["index"][0]))
        with torch.inference_mode():  # the method never sees the hole pixels
            prediction = method.inpaint_scored(images * (1 - holes), holes, images).float()
        require_finite(method, prediction, batch.get("image_id", ()))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        timings.inference += now - clock
        clock = now
        composite = metrics.composite(images, holes, prediction)
        scores = metrics.score_batch(images, composite)
        composite = composite.cpu()
        now = time.perf_counter()
        timings.scoring += now - clock
        yield batch, composite, scores
        clock = time.perf_counter()


def mean_psnr(method: Method, images: torch.Tensor, holes: torch.Tensor, *, seed: int) -> float:
    """One in-memory batch's mean composite PSNR, scored by `scored_batches` on the CPU, leaving
    the caller's RNG and the method's training mode as they were (as validation does): what the
    learning checks (methods check, the learning probe) score along a training run."""
    loader = [{"image": images, "mask": holes, "index": torch.arange(len(images))}]
    with torch.random.fork_rng():
        method.eval()
        try:
            ((_, _, scores),) = scored_batches(method, loader, torch.device("cpu"), seed=seed)
        finally:
            method.train()
    return float(scores["psnr"].mean())


# --- rows ----------------------------------------------------------------------------------
def row_constants(config: Config, method: Method, checkpoint: str, sha256: str,
                  foreign: str | None = None) -> dict[str, str]:
    """The columns every row of one evaluation shares (`foreign`: see `checkpoint_owner`)."""
    return {"run_id": config.run_id, "method": config.method.name, "checkpoint": checkpoint,
            "checkpoint_sha256": sha256, "dataset": config.data.dataset,
            "protocol": rows.protocol_text(method.protocol(), foreign)}


def batch_rows(fixed: dict[str, str], batch: dict[str, Any], scores: dict[str, np.ndarray],
               setting: masks.EvalSetting) -> list[dict[str, str]]:
    """The rows (bench.records.rows) of one scored batch."""
    ratios = batch["mask"].float().mean(dim=(1, 2, 3)).tolist()
    return [{**fixed, "domain": batch["domain"][k], "image_id": image_id,
             "mask_id": batch["mask_id"][k], "mask_setting": setting.kind,
             "bucket": setting.bucket, "hole_ratio": repr(ratios[k]),
             **{m: repr(float(scores[m][k])) for m in metrics.METRICS}}
            for k, image_id in enumerate(batch["image_id"])]


def sample_indices(domains: Sequence[str], limit: int) -> set[int]:
    """`limit` indices of images (their domains in order) to save as samples, spread evenly:
    the domains take turns (in order of first appearance) until `limit` is reached or all are
    taken, and each domain's share is evenly spaced over its images, from its first."""
    groups: dict[str, list[int]] = {}
    for index, domain in enumerate(domains):
        groups.setdefault(domain, []).append(index)
    shares = dict.fromkeys(groups, 0)
    left = min(limit, len(domains))
    while left:
        for domain, members in groups.items():
            if left and shares[domain] < len(members):
                shares[domain] += 1
                left -= 1
    return {members[j * len(members) // shares[domain]]
            for domain, members in groups.items() for j in range(shares[domain])}


def save_samples(folder: Path, batch: dict[str, Any], composite: torch.Tensor, chosen: set[int]) -> None:
    """truth / input (holes white) / output PNGs of the batch's images whose index is chosen."""
    keep = [k for k, i in enumerate(batch["index"].tolist()) if i in chosen]
    if not keep:
        return
    images, holes = batch["image"][keep], batch["mask"][keep]
    views = {"truth": images, "input": images * (1 - holes) + holes, "output": composite[keep]}
    write_samples(folder, [batch["image_id"][k] for k in keep],
                  {name: metrics.quantize(tensor).numpy() for name, tensor in views.items()})


def write_samples(folder: Path, image_ids: Sequence[str], views: dict[str, np.ndarray]) -> None:
    """Each view (name → N×H×W×3 uint8) of each image as FOLDER/<id>_<name>.png."""
    for name, arrays in views.items():
        for image_id, array in zip(image_ids, arrays):
            runs.write_bytes(folder / f"{image_id}_{name}.png", png_bytes(array))


def png_bytes(array: np.ndarray) -> bytes:
    """An H×W(×3) uint8 array as PNG bytes (the same bytes for the same array)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


# --- the evaluator -------------------------------------------------------------------------
def missing_folders(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    return missing


def remove_unused(created: list[Path]) -> None:
    """Remove the folders a failed evaluation created and left with nothing but its lock file
    (weights that did not load leave no run folder behind)."""
    for folder in created:
        if folder.is_dir() and all(p.name == lock.LOCK_NAME for p in folder.iterdir()):
            shutil.rmtree(folder)


def evaluate_official(config: Config, weights_path: Path | str, *, run_dir: Path | None = None,
                      runs_root: Path = runs.RUNS_ROOT, overrides: Sequence[str] = (),
                      progress: bool = True) -> Path:
    """Score the config's method with released weights (a file, a release folder, or a release
    name under weights.root) into an evaluation-only run folder (default: the config's under
    `runs_root`) whose manifest records the weights' provenance; return its rows.csv."""
    return evaluate(config, run_dir=run_dir or runs.run_dir_for(config, runs_root),
                    official=weights_path, overrides=overrides, progress=progress)


def evaluate(source: Path | str | Config, *, run_dir: Path | None = None,
             checkpoint: str | int | Path | None = None, official: Path | None = None,
             shared: Path | None = None, overrides: Sequence[str] = (), progress: bool = True,
             foreign: bool = False) -> Path:
    """Score a run folder's checkpoint, or `official` weights for a Config; return rows.csv.

    `source` is a run folder (its config.yaml is used; `overrides` may change eval.* and
    train.device; `foreign` lets `checkpoint` be another run's, labelled so) or a Config, which needs `run_dir` and `official` (released weights) or
    `shared` (the run folder that trained the same network with the same recipe: its last
    checkpoint is scored under this config's method name) or a training-free method.
    """
    if isinstance(source, Config):
        if run_dir is None or (official is None and shared is None
                               and not methods.entry(source.method.name).training_free):
            raise EvaluationError("evaluating a config needs run_dir and an official checkpoint "
                                  "(none for a training-free method)")
        config = config_module.from_dict(config_module.apply_overrides(
            config_module.to_dict(source), overrides), source="config")
    else:
        run_dir = Path(source)
        if not runs.RunFolder(run_dir).config_file.is_file():
            raise EvaluationError(f"{run_dir}: not a run folder (no config.yaml)")
        bad = [o for o in overrides if not o.startswith(RUN_FOLDER_OVERRIDES)]
        if bad:
            raise EvaluationError(f"{', '.join(bad)}: only eval.* and train.device can be "
                                  "changed when evaluating a run folder")
        config = config_module.load(runs.RunFolder(run_dir).config_file, overrides)
    owns_group = not distributed.is_distributed()
    device = distributed.setup(resolve_device(config.train.device))
    created = missing_folders(Path(run_dir))
    try:
        with contextlib.ExitStack() as held:
            distributed.on_rank_zero(lambda: held.enter_context(lock.hold(Path(run_dir), note)))
            return Evaluator(config, Path(run_dir), device, checkpoint, official, progress, shared,
                             foreign).run()
    except BaseException:
        distributed.on_rank_zero(lambda: remove_unused(created))
        raise
    finally:
        if owns_group:
            distributed.teardown()


def training_free_identity(name: str, method: Method) -> str:
    """The rows' checkpoint identity of a training-free method, which has no file: the sha256 of
    its name and evaluation protocol (its options, e.g. the radius), so other settings never
    share rows."""
    described = json.dumps({"method": name, "protocol": dict(method.protocol())}, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()


def note(message: str) -> None:
    """A message of the evaluate command (stderr, progress bars intact)."""
    say(message, "evaluate")


def check_checkpoint(path: Path, checkpoint: checkpoint_record.Checkpoint, config: Config) -> None:
    """Refuse a checkpoint that is not of the run's method, dataset, options and image size,
    naming both sides: its rows would be filed as the run's own."""
    spec = checkpoint.spec
    pairs = {"method": (checkpoint.method_name, config.method.name),
             "dataset": (spec.dataset, config.data.dataset),
             "image size": (spec.image_size, config.data.size),
             "method options": (dict(spec.options), dict(config.method.options))}
    differ = [f"{name} {ours!r} (the run's: {theirs!r})" for name, (ours, theirs) in pairs.items()
              if ours != theirs]
    if differ:
        raise EvaluationError(f"{path}: not a checkpoint of this run: its {'; '.join(differ)}; "
                              "evaluate it in its own run folder")


def checkpoint_owner(path: Path, checkpoint: checkpoint_record.Checkpoint, run: runs.RunFolder,
                     foreign: bool) -> str | None:
    """None when `checkpoint` is the run's own; else, given `foreign`, the run it comes from (its
    rows' foreign label), and without it an EvaluationError naming both runs.

    Own: it records the run's identity (run id and uid, bench.records.manifest). One written
    before checkpoints recorded their run is taken as the run's own where it lies in the run's
    checkpoints folder, and as of an unknown run anywhere else."""
    ours = run.read_manifest().identity
    if checkpoint.run == ours or (checkpoint.run is None and path.resolve().parent == run.checkpoints.resolve()):
        return None
    if checkpoint.run is None:
        source, why = "an unknown run", ("written before checkpoints recorded their run, and not in "
                                         f"this run's folder {run.checkpoints}")
    else:
        source, why = checkpoint_record.run_label(checkpoint.run), checkpoint.not_of(ours)
    if foreign:
        return source
    raise EvaluationError(f"{path}: {why}; evaluate it in its own run folder, or give --foreign to "
                          "score it here, labelled foreign in the rows and the report")


class Evaluator:
    def __init__(self, config: Config, run_dir: Path, device: torch.device,
                 checkpoint: str | int | Path | None, official: Path | None, progress: bool,
                 shared: Path | None = None, foreign: bool = False):
        self.config, self.device, self.progress = config, device, progress
        self.foreign: str | None = None  # the run a foreign checkpoint comes from
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.run_folder = runs.RunFolder(run_dir)
        if official is not None:  # loaded first: a file that does not load leaves no run folder
            spec = method_spec(config, datasets.mean_pixel(open_data(config, "train")))
            self.method = method_from_official(config.method.name, spec, official, device,
                                               config.weights.root)
            self.checkpoint = f"official:{'+'.join(self.method.released['files'])}"
            self.sha256 = "+".join(self.method.released["files"].values())
            self._evaluation_folder(official, self.method.released, spec.mean_pixel)
        elif shared is not None:  # the twin's checkpoint: another method name by design, so no run check
            path = runs.resolve_checkpoint(runs.RunFolder(shared), checkpoint)
            state = checkpoint_record.load(path)
            self.method = method_from_checkpoint(state, device)
            self.method.name = config.method.name  # the same network, shown under this run's name
            self.checkpoint, self.sha256 = path.name, runs.file_sha256(path)
            self._evaluation_folder(path, runs.shared_provenance(config, Path(shared), path), state.spec.mean_pixel)
        elif methods.entry(config.method.name).training_free:
            self.method = method_without_data(config, device)
            self.checkpoint = TRAINING_FREE_CHECKPOINT
            self.sha256 = training_free_identity(config.method.name, self.method)
            self._evaluation_folder(None, runs.TRAINING_FREE_PROVENANCE, (0.0, 0.0, 0.0))
        else:
            path = runs.resolve_checkpoint(self.run_folder, checkpoint)
            record = checkpoint_record.load(path)
            check_checkpoint(path, record, config)
            self.foreign = checkpoint_owner(path, record, self.run_folder, foreign)
            self.method = method_from_checkpoint(record, device)
            self.checkpoint, self.sha256 = path.name, runs.file_sha256(path)
            diverged = self.run_folder.read_manifest().diverged_at if self.rank == 0 else None
            if diverged is not None:
                note(f"{self.run_folder.path} stopped on divergence at step {diverged} of its "
                     f"{config.train.iterations}: scoring {path.name}, from before it (status failed, "
                     "not a full-budget run)")
        self.method.eval()
        self.dataset = open_data(config, "test")
        bound = self.run_folder if shared is None else runs.RunFolder(shared)  # whose split it trained on
        recorded = bound.read_manifest().split if official is None else None
        if recorded is not None and recorded["test"] != splits.fingerprint(self.dataset.ids):
            raise EvaluationError(splits.mismatch(bound.manifest_file, "test",
                                                  recorded["test"], splits.fingerprint(self.dataset.ids)))
        self.eval_dir = self.run_folder.eval_dir
        self.eval_dir.mkdir(parents=True, exist_ok=True)

    def _evaluation_folder(self, checkpoint: Path | None, provenance: dict[str, Any] | None,
                           mean_pixel: tuple[float, ...]) -> None:
        """Rank 0 opens the evaluation-only run folder of a method not trained in it (released
        weights, another run's training, or none needed) and writes its method card."""
        distributed.on_rank_zero(lambda: runs.open_evaluation_run(
            self.run_folder.path, self.config, command=runs.command_line(),
            device=describe_device(self.device), checkpoint=checkpoint, provenance=provenance))
        if self.rank == 0:
            description = methods.entry(self.config.method.name).description
            runs.write_method_card(self.run_folder, self.method, description, mean_pixel)

    def run(self) -> Path:
        distributed.on_rank_zero(lambda: rows.merge_parts(self.run_folder))  # left by an interrupted run
        done = rows.scored_images(self.run_folder, self.sha256)
        writer = rows.Writer(self.run_folder.rows_file if self.world == 1
                             else self.run_folder.row_part(self.rank))
        fixed = row_constants(self.config, self.method, self.checkpoint, self.sha256, self.foreign)
        count = min(self.config.eval.count or len(self.dataset), len(self.dataset))
        distributed.on_rank_zero(lambda: rows.record_plan(
            self.run_folder, self.sha256, self.config.eval.masks, count, splits.fingerprint(self.dataset.ids),
            self.config.eval.mask_seed, name=self.checkpoint, assumed_seed=self.run_folder.read_config().eval.mask_seed))
        for name in self.config.eval.masks:
            self.evaluate_setting(masks.EvalSetting(name), count, done, writer, fixed)
        distributed.barrier()
        distributed.on_rank_zero(lambda: rows.merge_parts(self.run_folder))
        distributed.barrier()  # before teardown (see distributed.teardown)
        return self.run_folder.rows_file

    def evaluate_setting(self, setting: masks.EvalSetting, count: int,
                         done: dict[tuple[str, str], set[str]], writer: rows.Writer,
                         fixed: dict[str, str]) -> None:
        scored = done.get((setting.kind, setting.bucket), set())
        todo = [i for i in range(count) if self.dataset.ids[i] not in scored]
        mine = todo[self.rank :: self.world]
        loader = DataLoader(MaskedImages(self.dataset, test_mask_set(self.config, setting, count), mine),
                            batch_size=self.config.eval.batch_size,
                            num_workers=self.config.eval.num_workers,
                            pin_memory=self.device.type == "cuda")
        samples = self.run_folder.samples_dir / setting.folder
        chosen = sample_indices(self.dataset.domains[:count], self.config.eval.samples_to_save)
        bar = tqdm(total=len(todo), desc=setting.folder, unit="img", dynamic_ncols=True,
                   disable=not self.progress or self.rank != 0 or not todo)
        for batch, composite, scores in scored_batches(self.method, loader, self.device,
                                                       seed=self.config.eval.mask_seed):
            save_samples(samples, batch, composite, chosen)
            writer.write(batch_rows(fixed, batch, scores, setting))
            bar.update(len(batch["image_id"]) * self.world)
        bar.close()


# --- command line ------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    if args.target is None:
        raise EvaluationError("give a run folder or a config YAML (or --predictions DIR --name NAME --testset OUT)")
    if args.name is not None or args.testset is not None or args.accept_changed_known:
        raise EvaluationError("--name, --testset and --accept-changed-known go with --predictions DIR")
    if args.target.suffix in (".yaml", ".yml"):
        if args.foreign:
            raise EvaluationError("--foreign needs a run folder as target, not a config YAML")
        overrides = command_overrides(args)
        overrides += [f"weights.root={args.weights_root}"] if args.weights_root else []
        config = config_module.load(args.target, overrides)
        if args.official is None and not methods.entry(config.method.name).training_free:
            raise EvaluationError("a config YAML is evaluated with released weights: give --official")
        rows = (evaluate(config, run_dir=runs.run_dir_for(config, args.runs_root), progress=not args.no_progress)
                if args.official is None else
                evaluate_official(config, args.official, runs_root=args.runs_root, progress=not args.no_progress))
    else:
        if args.official is not None:
            raise EvaluationError("--official needs a config YAML as target, not a run folder")
        if args.data_root is not None:
            raise EvaluationError("--data-root needs a config YAML as target; a run folder keeps its own data.root")
        if args.foreign and args.checkpoint is None:
            raise EvaluationError("--foreign goes with --checkpoint FILE: a checkpoint of another run")
        rows = evaluate(args.target, checkpoint=args.checkpoint, overrides=args.overrides,
                        progress=not args.no_progress, foreign=args.foreign)
    if os.environ.get("RANK", "0") == "0":
        print(f"rows in {rows}")
    return 0
