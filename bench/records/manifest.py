"""The run manifest (manifest.json of a run folder) as one typed record.

What a run was (id, profile, method, dataset, seed), where and from what code it ran (git state,
package versions, command, device, world size), its life (started, finished, status, resumes,
the error that stopped it, the step it stopped on divergence at) and what it is bound to (the
weights' provenance, the split lists' checksums, the last checkpoint it wrote and that file's
sha256). Its `identity` (run id and a random uid made with the run) is written into every
checkpoint the run saves, so a checkpoint of another run, even one of the same id, is told
apart. `bench.runs` writes manifest.json as `Manifest.to_dict()` and reads it with `from_dict`,
which checks every key and value (`bench.typed`, as the run config is checked) and names the
file; `replace` checks its changes the same way.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench import typed


SUPPLIED_KIND = "predictions"  # the provenance kind of a run of supplied outputs (bench.predictions)
SUPPLIED_LABEL = " (supplied outputs)"  # what tables and the report add to such a run's method name


def shown_method(method: str, provenance: dict[str, Any] | None) -> str:
    """The name tables and the report show a run's rows under: a run of supplied outputs is
    "NAME (supplied outputs)", never a registered method's name, whatever is installed later."""
    return method + SUPPLIED_LABEL if (provenance or {}).get("kind") == SUPPLIED_KIND else method


def supplied(shown: str) -> bool:
    """Whether a shown method name (`shown_method`) is a run of supplied outputs."""
    return shown.endswith(SUPPLIED_LABEL)


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
    command: list[str] = field(metadata={"empty": True})  # the latest start's or resume's command line
    seed: int
    device: str  # cpu, or cuda:N with the GPU's name
    world_size: int = field(metadata={"min": 1})  # processes in the latest start or resume
    started: str  # ISO time, UTC
    finished: str | None = None
    status: Literal["running", "finished", "failed"] = "running"  # as last written (runs.run_status: as now)
    resumed: list[str] = field(default_factory=list)  # ISO time of each resume
    error: str | None = field(default=None, metadata={"empty": True})  # a failed attempt's one-line error
    # the step a run stopped at on a sign of divergence (train.stop_on_divergence; status failed)
    diverged_at: int | None = field(default=None, metadata={"min": 1})
    provenance: dict[str, Any] | None = None  # where the weights come from (trained/released)
    split: dict[str, Any] | None = None  # the train/test split lists' checksums (bench.data.splits)
    official_checkpoint: str | None = None  # the released file an evaluation-only run scored
    # random, made with the run (None: a manifest written before uids): tells two runs of one id apart
    run_uid: str | None = None
    last_checkpoint: str | None = None  # the file name of the last checkpoint the run wrote
    last_checkpoint_sha256: str | None = None  # and its sha256, as written

    @property
    def identity(self) -> dict[str, str | None]:
        """What a checkpoint records of the run that wrote it (bench.records.checkpoint)."""
        return {"run_id": self.run_id, "run_uid": self.run_uid}

    @property
    def shown_method(self) -> str:
        return shown_method(self.method, self.provenance)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object manifest.json holds."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Manifest:
        """A copy with `changes`, each name and value checked as on reading."""
        return from_dict("manifest", {**self.to_dict(), **changes})


def new_uid() -> str:
    """A run uid: random, so no two runs share one (not even two of one run id)."""
    return uuid.uuid4().hex


def from_dict(path: Path | str, data: Any) -> Manifest:
    """The record of manifest.json's content; ManifestError naming `path` and the key that is
    unknown, missing or of the wrong type."""
    try:
        manifest = typed.build(Manifest, data, "", ManifestError)
        typed.check_name(manifest.run_id, "run_id", ManifestError)  # it names report files
        check_split(manifest.split)
        return manifest
    except ManifestError as error:
        raise ManifestError(f"{path}: {error}") from None


def check_split(split: dict[str, Any] | None) -> None:
    """A split record is None or {"train": …, "test": …}, each {"count": int, "sha256": str}
    (bench.data.splits.fingerprint); ManifestError naming the key otherwise."""
    for name in () if split is None else ("train", "test"):
        entry = split.get(name)
        if not (isinstance(entry, dict) and isinstance(entry.get("count"), int)
                and isinstance(entry.get("sha256"), str)):
            raise ManifestError(f"split.{name}: expected {{count: int, sha256: str}}, got {entry!r}")
