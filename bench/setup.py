"""Set-up shared by train, evaluate, reproduce, inpaint and the benchmarks: the device, the
data, the method spec, and a method built fresh, from a run checkpoint or from released weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from bench import methods, weights
from bench.config import Config
from bench.data import datasets
from bench.method import Method, MethodSpec
from bench.records import checkpoint as checkpoint_record


class SetupError(RuntimeError):
    """A device, data set or method that cannot be set up as asked."""


def say(message: str, command: str = "train") -> None:
    """A harness message of `command` on stderr that leaves progress bars intact."""
    tqdm.write(f"[{command}] {message}", file=sys.stderr)


def command_overrides(args: argparse.Namespace) -> list[str]:
    """A train/evaluate command line's KEY=VALUE overrides, with --run-id and --data-root as keys."""
    return [*args.overrides, *([f"run.id={args.run_id}"] if args.run_id else []),
            *([f"data.root={args.data_root}"] if args.data_root else [])]


# --- the device --------------------------------------------------------------------------------
def resolve_device(choice: str) -> str:
    """train.device (auto, cpu or cuda) → the device type to use."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise SetupError("train.device: cuda was asked for but no CUDA device is available")
    return choice


def describe_device(device: torch.device) -> str:
    """The device as a run's manifest records it: cpu, or cuda:N with the GPU's name."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


# --- data and method ---------------------------------------------------------------------------
def open_data(config: Config, split: str) -> datasets.ImageDataset:
    return datasets.open_dataset(
        config.data.dataset, split, size=config.data.size,
        root=None if config.data.root is None else Path(config.data.root),
        cache_dir=None if config.data.cache_dir is None else Path(config.data.cache_dir),
        extra_train_root=None if config.data.extra_train_root is None else Path(config.data.extra_train_root),
    )


def method_spec(config: Config, mean: tuple[float, float, float]) -> MethodSpec:
    return MethodSpec(
        image_size=config.data.size,
        iterations=config.train.iterations,
        dataset=config.data.dataset,
        seed=config.train.seed,
        options=dict(config.method.options),
        mean_pixel=mean,
    )


def fresh_method(name: str, spec: MethodSpec, device: torch.device | str = "cpu") -> Method:
    """Method `name` built from the registry, its weights initialised from `spec.seed` (a run's
    train.seed: the same on every process); two builds from the same spec are the same method."""
    torch.manual_seed(spec.seed)
    return methods.create(name, spec).to(device)


def method_without_data(config: Config, device: torch.device | str = "cpu") -> Method:
    """The config's method freshly built without opening its data (mean pixel zero): for
    timing, sizes and release look-ups."""
    return fresh_method(config.method.name, method_spec(config, (0.0, 0.0, 0.0)), device)


def method_from_checkpoint(checkpoint: checkpoint_record.Checkpoint, device: torch.device) -> Method:
    """The method a run checkpoint holds, with its weights and state."""
    torch.manual_seed(checkpoint.spec.seed)
    method = methods.create(checkpoint.method_name, checkpoint.spec)
    method.load_state_dict(checkpoint.method)
    return method.to(device)


def method_from_official(name: str, spec: MethodSpec, path: Path | str, device: torch.device,
                         root: Path | str | None = None) -> Method:
    """Method `name` with released weights loaded by `load_official` (its provenance in
    `method.released`); `path` is a file, a release folder, or a release name under `root`."""
    method = fresh_method(name, spec, device)
    method.load_official(weights.resolve(method, path, root))
    return method
