"""Reproduction profiles: a YAML file under bench/configs/ that expands into a plan of runs.

A profile names datasets and methods, a `base` run config (bench/config.py's sections) shared by
every run, and optional `per_dataset` / `per_method` overrides. Each (method, dataset) pair is
one run with id `<run_group>-<method>-<dataset>-<size>px` (`run_group` defaults to the profile's
name), so profiles that share a group (paper and ablation) share their common runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import config as config_module
from bench.config import Config

CONFIG_DIR = Path(__file__).parent / "configs"
PROFILE_KEYS = {"description", "comparable", "datasets", "methods", "includes", "run_group",
                "base", "per_dataset", "per_method"}


class ProfileError(ValueError):
    """A profile that does not exist or is malformed."""


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    method: str
    dataset: str
    config: Config


@dataclass
class Profile:
    name: str
    description: str
    comparable: bool
    datasets: list[str]
    methods: list[str]
    runs: list[PlannedRun] = field(default_factory=list)


def names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


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
    return raw


def _dataset_root(data_root: Path | None, dataset: str) -> str | None:
    """`DIR/<dataset>` when that folder exists, else DIR itself (one dataset per root)."""
    if data_root is None or dataset == "sample":
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
            settings = _merge(copy.deepcopy(raw.get("base", {})), raw.get("per_dataset", {}).get(dataset, {}))
            settings = _merge(settings, raw.get("per_method", {}).get(method, {}))
            settings = _merge(settings, {"method": {"name": method},
                                         "data": {"dataset": dataset, "root": _dataset_root(data_root, dataset)}})
            settings = config_module.apply_overrides(settings, overrides)
            run_id = f"{group}-{method}-{dataset}-{settings.get('data', {}).get('size', 256)}px"
            settings.setdefault("run", {}).update(id=run_id, profile=group)
            config = config_module.from_dict(settings, source=f"profile {name} ({method} on {dataset})")
            planned.append(PlannedRun(run_id, method, dataset, config))
    return planned


def plan(name: str, *, data_root: Path | None = None, datasets: list[str] | None = None,
         methods: list[str] | None = None, overrides: list[str] | None = None) -> Profile:
    """Expand profile `name` and the profiles it includes into their runs, narrowed as asked."""
    raw = read(name)
    chain = {name: raw, **{n: read(n) for n in raw.get("includes", [])}}
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
    return profile
