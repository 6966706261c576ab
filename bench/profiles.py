"""Reproduction profiles: a YAML file under bench/configs/ that expands into a plan of runs.

A profile names datasets and methods, a `base` run config (bench/config.py's sections) shared by
every run, and optional `per_dataset` / `per_method` overrides. Each (method, dataset) pair is
one run with id `<run_group>-<method>-<dataset>-<size>px` (`run_group` defaults to the profile's
name), so profiles that share a group (paper and ablation) share their common runs.

Recipes are configuration, so nothing here knows a method by name. `recipe` labels the base
settings (paper | uniform); a `per_method` entry may say, beside its config sections:
  recipe: authors         # its settings are that method's authors' recipe (the run's label)
  release: {DATASET: NAME} # evaluate the released weights NAME instead of training (when present)
  paper_says: "..."       # the paper's sentence about this method's protocol (for the report)
  notes: ["..."]          # the choices this profile makes where the paper is silent
Every trained run's `run.recipe` is its label, recorded as its provenance.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import config as config_module
from bench import methods as registry
from bench.config import Config

CONFIG_DIR = Path(__file__).parent / "configs"
PROFILE_KEYS = {"description", "comparable", "datasets", "methods", "includes", "run_group", "recipe",
                "base", "per_dataset", "per_method"}
PER_METHOD_KEYS = {"recipe", "release", "paper_says", "notes"}  # beside the config sections
RECIPE_LABELS = {"paper": "the paper's recipe", "uniform": "uniform recipe", "authors": "authors' recipe"}
RECIPES = tuple(RECIPE_LABELS)


class ProfileError(ValueError):
    """A profile that does not exist or is malformed."""


@dataclass(frozen=True)
class PlannedRun:
    """One run: trained from `config`, or, with `release`, evaluated from those released weights
    into the folder `released_id` (then `config` is how it is trained under --train-missing)."""

    run_id: str
    method: str
    dataset: str
    config: Config
    release: str | None = None
    trained_by: str | None = None  # the run that trains the same network with the same recipe

    @property
    def released_id(self) -> str:
        return f"{self.run_id}-released"

    def released_config(self) -> Config:
        """The evaluation-only config of the release run (nothing in it is trained)."""
        return dataclasses.replace(self.config, run=dataclasses.replace(
            self.config.run, id=self.released_id, recipe=None))


@dataclass(frozen=True)
class BaselineProtocol:
    """What the paper says about one method's protocol, and this profile's notes on it."""

    method: str
    paper_says: str
    notes: tuple[str, ...]
    releases: dict[str, str]  # dataset → the release this profile evaluates (empty: trained)


@dataclass
class Profile:
    name: str
    description: str
    comparable: bool
    datasets: list[str]
    methods: list[str]
    runs: list[PlannedRun] = field(default_factory=list)
    protocols: list[BaselineProtocol] = field(default_factory=list)


def names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def comparable(name: str | None) -> bool | None:
    """Profile `name`'s `comparable` flag (a run records its profile's name as run.profile);
    None when no profile of that name exists (a run of one's own config)."""
    return bool(read(name).get("comparable", False)) if name in names() else None


def _merge(into: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def read(name: str) -> dict[str, Any]:
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(f"unknown profile {name!r}; known: {', '.join(names())}")
    raw = config_module.parse_yaml(path.read_text()) or {}
    unknown = sorted(set(raw) - PROFILE_KEYS)
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(PROFILE_KEYS))}")
    labels = [("recipe", raw.get("recipe"))]
    labels += [(f"per_method.{m}.recipe", e.get("recipe")) for m, e in raw.get("per_method", {}).items()]
    for key, label in labels:
        if label is not None and label not in RECIPES:
            raise ProfileError(f"{path}: {key}: bad value {label!r}; expected {' | '.join(RECIPES)}")
    for method, entry in raw.get("per_method", {}).items():
        release = entry.get("release", {})
        missing = [d for d in raw.get("datasets", []) if d not in release]
        if release and missing:
            raise ProfileError(f"{path}: per_method.{method}.release names no release for {', '.join(missing)}")
    return raw


def _split_entry(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A per_method entry → (its config sections, its profile keys)."""
    return ({k: v for k, v in entry.items() if k not in PER_METHOD_KEYS},
            {k: v for k, v in entry.items() if k in PER_METHOD_KEYS})


def _dataset_root(data_root: Path | None, dataset: str) -> str | None:
    """`DIR/<dataset>` when that folder exists, else DIR itself (one dataset per root)."""
    from bench.data.datasets import REAL_DATASETS  # here: it imports torch, which --help must not

    if data_root is None or dataset not in REAL_DATASETS:
        return None
    nested = Path(data_root) / dataset
    return str(nested if nested.is_dir() else Path(data_root))


def _expand(name: str, raw: dict[str, Any], data_root: Path | None, datasets: list[str] | None,
            methods: list[str] | None, overrides: list[str]) -> list[PlannedRun]:
    group = raw.get("run_group", name)
    planned = []
    for dataset in raw.get("datasets", []):
        for method in raw.get("methods", []):
            if (datasets and dataset not in datasets) or (methods and method not in methods):
                continue
            sections, keys = _split_entry(raw.get("per_method", {}).get(method, {}))
            settings = _merge(copy.deepcopy(raw.get("base", {})), raw.get("per_dataset", {}).get(dataset, {}))
            settings = _merge(settings, sections)
            settings = _merge(settings, {"method": {"name": method},
                                         "data": {"dataset": dataset, "root": _dataset_root(data_root, dataset)}})
            settings = config_module.apply_overrides(settings, overrides)
            run_id = f"{group}-{method}-{dataset}-{settings.get('data', {}).get('size', 256)}px"
            settings.setdefault("run", {}).update(id=run_id, profile=group,
                                                  recipe=keys.get("recipe", raw.get("recipe")))
            config = config_module.from_dict(settings, source=f"profile {name} ({method} on {dataset})")
            planned.append(PlannedRun(run_id, method, dataset, config, keys.get("release", {}).get(dataset)))
    return _shared(planned)


def _shared(planned: list[PlannedRun]) -> list[PlannedRun]:
    """Mark each run whose registry entry is the same network as another planned run's method
    (`paper_equivalent`), on the same dataset with the same settings, as trained by that run:
    the network is trained once and evaluated under both names."""
    def settings(run: PlannedRun) -> dict[str, Any]:
        plain = config_module.to_dict(run.config)
        plain["run"]["id"] = plain["method"]["name"] = None
        return plain

    found = []
    for run in planned:
        twin = registry.entry(run.method).paper_equivalent
        same = [p for p in planned if p.method == twin and p.dataset == run.dataset and p.release is None
                and run.release is None and settings(p) == settings(run)]
        found.append(dataclasses.replace(run, trained_by=same[0].run_id) if same else run)
    return found


def _protocols(raw: dict[str, Any]) -> list[BaselineProtocol]:
    return [BaselineProtocol(method, entry["paper_says"], tuple(entry.get("notes", [])), entry.get("release", {}))
            for method, entry in raw.get("per_method", {}).items()
            if "paper_says" in entry and method in raw.get("methods", [])]


def plan(name: str, *, data_root: Path | None = None, datasets: list[str] | None = None,
         methods: list[str] | None = None, overrides: list[str] | None = None) -> Profile:
    """Expand profile `name` and the profiles it includes into their runs, narrowed as asked."""
    raw = read(name)
    chain = {name: raw, **{n: read(n) for n in raw.get("includes", [])}}
    # a plugin method (bench.methods.PLUGINS) named in `methods` joins every member's methods:
    # it runs under the profile's base config like the built-ins
    plugins = [m for m in methods or [] if m in registry.PLUGINS]
    chain = {n: {**r, "methods": [*r.get("methods", []), *(p for p in plugins if p not in r.get("methods", []))]}
             for n, r in chain.items()}
    profile = Profile(name, raw.get("description", name), bool(raw.get("comparable", False)),
                      sorted({d for r in chain.values() for d in r.get("datasets", [])}),
                      sorted({m for r in chain.values() for m in r.get("methods", [])}))
    for wanted, known, what in ((datasets, profile.datasets, "dataset"), (methods, profile.methods, "method")):
        for item in wanted or []:
            if item not in known:
                raise ProfileError(f"profile {name!r} has no {what} {item!r}; it has: {', '.join(known)}")
    seen: set[str] = set()
    for member, member_raw in chain.items():
        for run in _expand(member, member_raw, data_root, datasets, methods, overrides or []):
            if run.run_id not in seen:
                seen.add(run.run_id)
                profile.runs.append(run)
        profile.protocols += [p for p in _protocols(member_raw) if (not methods or p.method in methods)
                              and p.method not in {q.method for q in profile.protocols}]
    return profile
