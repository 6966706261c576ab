"""Typed run configuration: YAML in, frozen dataclasses out, and back to YAML.

A run's config has six sections (run, method, data, train, eval, weights), checked by
`bench.typed.build`: unknown keys are errors that name the key's dotted path and suggest the
closest known key; bad values name the key and the value. `apply_overrides` applies command-line settings such as "train.iterations=10".

Batch size: with `train.batch_size_scope: global` (the default) `train.batch_size` is the
batch of one optimisation step summed over all processes, divided evenly across them (so a run
computes the same thing on 1 or N processes); with `per_process` every process takes
`batch_size` samples and the global batch is `batch_size × processes`.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

# The registry is a leaf (it imports only the Method contract and loads no model until one is
# built), so the default method is its reference entry itself, not a second copy of the name.
from bench import methods, typed
from bench.records import reading
from bench.data.masks import EVAL_SETTINGS, PAPER_SETTINGS

EVAL_MASK_SETTINGS = tuple(s.name for s in EVAL_SETTINGS)  # the names eval.masks accepts
PAPER_MASK_SETTINGS = tuple(s.name for s in PAPER_SETTINGS)  # its default: the paper's settings


class ConfigError(ValueError):
    """A configuration key that is unknown or has a bad value."""


class _Loader(yaml.SafeLoader):
    """YAML 1.1's safe loader, except that exponent floats without a dot (1e6, 5e-4) are
    numbers, as in YAML 1.2 and Python, rather than strings."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str) -> Any:
    """YAML text as plain data, exponent floats included (configs, profiles, overrides)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 — a SafeLoader subclass


@dataclass(frozen=True)
class RunConfig:
    id: str | None = None  # None: derived as <method>-<dataset>-<size>px-seed<seed>
    profile: str | None = None  # the reproduction profile (group) that planned the run, if any
    # whose training recipe this run follows (a profile's label; recorded as its provenance)
    recipe: Literal["paper", "authors", "uniform"] | None = None


@dataclass(frozen=True)
class MethodConfig:
    name: str = methods.REFERENCE  # the paper's own method
    options: dict[str, Any] = field(default_factory=dict)  # passed to MethodSpec.options


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "sample"
    root: str | None = None
    size: int = field(default=256, metadata={"min": 8})
    train_masks: Literal["square", "irregular", "mixed", "rectangle", "pluralistic"] = "mixed"
    # resize the whole image to this side (given at 256 px, scaled with size), then random-crop size²
    train_resize_crop: int | None = field(default=None, metadata={"min": 256})
    train_rotation: int = field(default=0, metadata={"min": 0})  # random rotation ±degrees (0: off)
    # training crops seen at a zoom drawn from 1…N (1: off): the image resized to size·zoom, or the
    # sample set's source scaled for that working size, then a random size² crop
    train_zoom: int = field(default=1, metadata={"min": 1})
    # sample set only: every image under this folder joins the train split (never tested on),
    # seen at the sample set's scale (short side twice the working size, then a random crop)
    extra_train_root: str | None = None
    mask_augment: bool = False  # PEN-Net's train-time mask flip, 0–45° rotation and 1-px dilation
    color_jitter: bool = False  # PEN-Net's train-time ColorJitter(0.05, 0.05, 0.05, 0.05)
    nvidia_masks: str | None = None  # the NVIDIA irregular test set (irregular settings)
    mask_dir: str | None = None  # else a fixed set written by `masks make`; else generated
    cache_dir: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = field(default=1000, metadata={"min": 1})
    batch_size: int = field(default=64, metadata={"min": 1})
    batch_size_scope: Literal["global", "per_process"] = "global"
    seed: int = field(default=0, metadata={"min": 0})
    checkpoint_every: int = field(default=1000, metadata={"min": 1})
    keep_last: int = field(default=3, metadata={"min": 1})
    log_every: int = field(default=50, metadata={"min": 1})
    sample_every: int = field(default=1000, metadata={"min": 1})
    num_workers: int = field(default=4, metadata={"min": 0})
    bf16: bool = False  # GPU only: autocast to bfloat16 around the training step
    channels_last: bool = False  # GPU only
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Validation during training (bench.validation): every N steps and at the end (None: off), the
    # first `validate_count` test images under each of `validate_masks`; a monitor only.
    validate_every: int | None = field(default=None, metadata={"min": 1})
    validate_count: int = field(default=16, metadata={"min": 1})
    validate_masks: tuple[str, ...] = field(default=("center", "irregular_3"),
                                            metadata={"choices": EVAL_MASK_SETTINGS})
    # Stop at the first sign of divergence (bench.divergence), keeping the checkpoints before it.
    stop_on_divergence: bool = False


@dataclass(frozen=True)
class EvalConfig:
    masks: tuple[str, ...] = field(
        default=PAPER_MASK_SETTINGS, metadata={"choices": EVAL_MASK_SETTINGS}
    )
    count: int | None = field(default=None, metadata={"min": 1})  # None: the whole test split
    batch_size: int = field(default=16, metadata={"min": 1})
    samples_to_save: int = field(default=8, metadata={"min": 0})
    num_workers: int = field(default=4, metadata={"min": 0})
    mask_seed: int = field(default=0, metadata={"min": 0})


@dataclass(frozen=True)
class WeightsConfig:
    root: str | None = None  # the authors' released weights: ROOT/<release name>/ (bench.weights)


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)

    @property
    def run_id(self) -> str:
        """The run's id: `run.id`, or one derived from method, dataset, size and seed."""
        if self.run.id is not None:
            return self.run.id
        return f"{self.method.name}-{self.data.dataset}-{self.data.size}px-seed{self.train.seed}"


# --- loading -----------------------------------------------------------------------------------
def from_dict(raw: Any, *, source: str = "config") -> Config:
    """Build a Config from plain data (YAML's), checking every key and value."""
    try:
        config = typed.build(Config, {} if raw is None else raw, "", ConfigError)
        typed.check_name(config.run_id, "run.id", ConfigError)  # it names the run's folder
        return config
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def load(path: str | Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Read a YAML config file, apply dotted `overrides` ("train.iterations=10")."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = reading.yaml_mapping(path, "correct it (a run folder's config.yaml is the config "
                                   "the run was trained with: restore it)", parse_yaml)
    except reading.RecordError as error:
        raise ConfigError(str(error)) from None
    if "base" in raw:  # `base` is a profile's key, never a run config's
        raise ConfigError(f"{path}: this is a profile (a plan of runs), not a run config: run "
                          f"`./reproduce.sh {path.stem}` (profiles live in bench/configs/) or copy its `base` "
                          "into a run config (`inpaint-bench config example > run.yaml` writes one)")
    return from_dict(apply_overrides(raw, overrides), source=str(path))


def apply_overrides(raw: dict[str, Any], overrides: typing.Sequence[str]) -> dict[str, Any]:
    """Return a copy of `raw` with each "dotted.key=value" set (value parsed as YAML)."""
    result = _plain(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected dotted.key=value")
        parts = key.strip().split(".")
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override {item!r}: {'.'.join(parts[: depth + 1])} is not a section"
                )
            node = child
        try:
            node[parts[-1]] = parse_yaml(text)
        except yaml.YAMLError:
            raise ConfigError(f"override {item!r}: value {text!r} is not valid YAML") from None
    return result


def resolve(config: Config) -> Config:
    """The same config with `run.id` filled in (what a run folder stores)."""
    return dataclasses.replace(config, run=dataclasses.replace(config.run, id=config.run_id))


# --- writing -----------------------------------------------------------------------------------
def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain data for YAML/JSON."""
    return _plain(dataclasses.asdict(resolve(config)))


def dump(config: Config) -> str:
    """The resolved config as YAML (loading it back gives an equal Config)."""
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two plain config dicts."""
    keys = sorted(set(a) | set(b))
    found = []
    for key in keys:
        path = f"{prefix}{key}"
        left, right = a.get(key, _MISSING), b.get(key, _MISSING)
        if isinstance(left, dict) and isinstance(right, dict):
            found += differences(left, right, f"{path}.")
        elif left != right:
            found.append(path)
    return found


# --- internals ---------------------------------------------------------------------------------
_MISSING = object()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
