"""The training checkpoint (checkpoints/step_NNNNNNN.pt of a run folder) as one typed record.

Written by the trainer, read by resume, evaluation and `inpaint`; all of them go through
`save` / `load` here, which go through bench.runs (atomic write, `.sha256` beside each file,
verified on every load, bad files set aside on resume). A file of another format version is
refused with its name: this code reads exactly `FORMAT`. Each checkpoint records the identity of
the run that wrote it (bench.records.manifest.Manifest.identity: run id and uid), and `save`
records it in that run's manifest as its last checkpoint, so evaluation can tell the run's own
checkpoints, and its last one, from files copied in (bench.evaluate). A checkpoint written before
identities were recorded reads with `run` None.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench import runs
from bench.method import MethodSpec

FORMAT = 1
"""The version of the record below; bump it when a field changes meaning or goes away."""


@dataclass(frozen=True)
class Checkpoint:
    step: int  # optimisation steps done
    global_batch: int  # samples per step over all processes: the data stream's stride
    method_name: str  # the registry name
    spec: MethodSpec
    method: dict[str, Any]  # Method.state_dict(): networks, optimisers, extra state
    rng: list[dict[str, Any]]  # every process's RNG states, by rank
    run: dict[str, Any] | None = None  # the writing run's Manifest.identity (None: written before identities)

    @property
    def data_position(self) -> int:
        """The global sample number the data stream continues from."""
        return self.step * self.global_batch

    def not_of(self, ours: dict[str, Any]) -> str | None:
        """Why this is not a checkpoint of run `ours` (a Manifest.identity), naming both runs;
        None when it records that run, or no run (written before identities)."""
        if self.run is None or self.run == ours:
            return None
        return f"a checkpoint of run {run_label(self.run)}, not of this run {run_label(ours)}"

    def to_state(self) -> dict[str, Any]:
        return {"format": FORMAT, "step": self.step, "data_position": self.data_position,
                "global_batch": self.global_batch, "method_name": self.method_name,
                "spec": dataclasses.asdict(self.spec), "method": self.method, "rng": self.rng,
                "run": self.run}


def run_label(identity: dict[str, Any]) -> str:
    """A run identity as messages name it: "tiny (uid 0123456789ab)"."""
    return f"{identity['run_id']} (uid {str(identity['run_uid'])[:12]})"


def from_state(path: Path, state: dict[str, Any]) -> Checkpoint:
    """The record of a loaded checkpoint dict; CheckpointError naming `path` if it is of another
    format version or its data position does not follow from its step and global batch."""
    found = state.get("format")
    if found != FORMAT:
        raise runs.CheckpointError(
            f"{path}: checkpoint format {found!r}, this version of inpaint-bench reads format "
            f"{FORMAT}; use the inpaint-bench that wrote it, or train again")
    step, batch = int(state["step"]), int(state["global_batch"])
    if state["data_position"] != step * batch:
        raise runs.CheckpointError(f"{path}: data position {state['data_position']} is not step "
                                   f"{step} × global batch {batch}; the file is inconsistent")
    spec = MethodSpec(**{**state["spec"], "mean_pixel": tuple(state["spec"]["mean_pixel"])})
    return Checkpoint(step=step, global_batch=batch, method_name=state["method_name"], spec=spec,
                      method=state["method"], rng=state["rng"], run=state.get("run"))


def save(run: runs.RunFolder, checkpoint: Checkpoint, keep_last: int) -> Path:
    """Write `checkpoint` as the run's step file (with its checksum), record it in the run's
    manifest as its last (name and sha256), then keep the last `keep_last` files."""
    return runs.save_checkpoint(run, checkpoint.step, checkpoint.to_state(), keep_last,
                                written=lambda path, sha256: run.update_manifest(
                                    last_checkpoint=path.name, last_checkpoint_sha256=sha256))


def load(path: Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """A run checkpoint, verified against its checksum and checked for its format."""
    return from_state(path, runs.load_checkpoint(path, map_location))


def load_if_run_checkpoint(path: Path) -> Checkpoint | None:
    """The record of `path` if it is one of our run checkpoints (verified, format checked);
    None for any other file, such as released weights."""
    try:
        state = runs.read_torch(path)
    except runs.CheckpointError:  # not a torch file (a Torch7 release): not ours
        return None
    if not isinstance(state, dict) or "method_name" not in state:
        return None
    runs.verify_checkpoint(path)
    return from_state(path, state)
