"""The run manifest (manifest.json of a run folder) as one typed record.

What a run was (id, profile, method, dataset, seed), where and from what code it ran (git state,
package versions, command, device, world size), its life (started, finished, status, resumes,
the error that stopped it) and what it is bound to (the weights' provenance, the split lists'
checksums). `bench.runs` writes and reads manifest.json only through `Manifest.to_dict` and
`from_dict`, which checks every field's type and refuses unknown keys with the file's name.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

STATUSES = ("running", "finished", "failed")


class ManifestError(ValueError):
    """A manifest.json that is not a manifest this version of inpaint-bench writes."""


@dataclass(frozen=True)
class Manifest:
    run_id: str
    profile: str | None  # the reproduce profile that made the run (None: a plain `train`)
    method: str  # the registry name
    dataset: str
    git_sha: str | None  # the harness's HEAD (None outside git)
    git_dirty: bool | None  # uncommitted changes in the harness's working tree
    packages: dict[str, str | None]  # python, cuda and the pinned packages' versions
    command: list[str]  # the command line of the latest start or resume
    seed: int
    device: str  # cpu, or cuda:N with the GPU's name
    world_size: int  # processes in the latest start or resume
    started: str  # ISO time, UTC
    finished: str | None = None
    status: str = "running"  # one of STATUSES as last written (see runs.run_status for a live one)
    resumed: list[str] = field(default_factory=list)  # ISO time of each resume
    error: str | None = None  # the one-line error of a failed attempt
    provenance: dict[str, Any] | None = None  # where the weights come from (trained/released)
    split: dict[str, Any] | None = None  # the train/test split lists' checksums (bench.data.splits)
    official_checkpoint: str | None = None  # the released file an evaluation-only run scored

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ManifestError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.world_size < 1:
            raise ManifestError(f"world_size {self.world_size} is not a positive process count")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object manifest.json holds (fields that are None and optional left out)."""
        data = dataclasses.asdict(self)
        return {key: value for key, value in data.items() if value is not None or key not in OPTIONAL}

    def replace(self, **changes: Any) -> Manifest:
        """A copy with `changes` (field names checked); unknown names raise ManifestError."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise ManifestError(f"no manifest field {unknown[0]!r}")
        return dataclasses.replace(self, **changes)


FIELDS = {item.name: item for item in dataclasses.fields(Manifest)}
OPTIONAL = ("error", "provenance", "split", "official_checkpoint")
_TYPES = typing.get_type_hints(Manifest)


def _matches(value: Any, expected: Any) -> bool:
    """Whether a JSON value has the annotated type (str | None, list[str], dict[str, …], int…)."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(expected))
    if expected is Any:
        return True
    if expected is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(expected)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        key_type, value_type = typing.get_args(expected)
        return isinstance(value, dict) and all(
            _matches(k, key_type) and _matches(v, value_type) for k, v in value.items())
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def from_dict(path: Path, data: Any) -> Manifest:
    """The record of manifest.json's content; ManifestError naming `path` and the key that is
    missing, unknown or of the wrong type."""
    if not isinstance(data, Mapping):
        raise ManifestError(f"{path}: holds {type(data).__name__}, not a JSON object of manifest fields")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ManifestError(f"{path}: unknown key {unknown[0]!r}; a manifest has "
                            f"{', '.join(FIELDS)}")
    required = [name for name, item in FIELDS.items()
                if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise ManifestError(f"{path}: missing key {missing[0]!r}")
    for key, value in data.items():
        if not _matches(value, _TYPES[key]):
            raise ManifestError(f"{path}: {key} is {value!r}, expected {_describe(_TYPES[key])}")
    try:
        return Manifest(**data)
    except ManifestError as error:
        raise ManifestError(f"{path}: {error}") from None


def _describe(expected: Any) -> str:
    return str(expected).replace("typing.", "").replace("NoneType", "None").replace("<class '", "").replace("'>", "")
