"""Run folders: results/runs/<id>/ with its config, manifest, method card and checkpoints.

Layout (see the interfaces brief): config.yaml, manifest.json, method.json, checkpoints/
step_NNNNNNN.pt (the last K kept), tb/, losses.csv, validation.csv, divergence.csv, eval/. Every file is written atomically
(temporary file in the same folder, flush + fsync, os.replace), so a crash leaves either the old
or the new version; a write that fails (a full disk, Ctrl-C) names the file and says that the
old version is kept. A finished run is never overwritten; an unfinished one with the same
resolved config resumes; one with a different config is an error naming the differing keys,
unless it never started (no checkpoint, no logged step), in which case the new config takes its
place. Every checkpoint has a `.sha256` file beside it (sha256sum's format), written before the
checkpoint itself appears and verified on every load.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from bench import config as config_module
from bench import lock, methods
from bench.config import Config
from bench.records import manifest as manifest_record
from bench.records import reading
from bench.records.manifest import Manifest

if TYPE_CHECKING:
    import torch

RUNS_ROOT = Path("results/runs")
PACKAGES = ("torch", "numpy", "pillow", "scikit-image", "pytorch-msssim", "pandas", "pyyaml",
            "tensorboard", "inpaint-bench")
CHECKPOINT_PATTERN = re.compile(r"^step_(\d{7,})\.pt$")
LOSS_COLUMNS = ("step", "name", "value")
CONFIG_FIX = "restore it: a run folder's config.yaml is the config the run was made with"
MANIFEST_FIX = "restore it from a copy, or train the run again under a new id (--run-id NEW)"
METHOD_CARD_FIX = "restore it, or move it aside and rerun the run's `inpaint-bench train` command to rewrite it"
LOSSES_FIX = ("restore it, or move it aside (training then logs from its last checkpoint on, and "
              "the report shows no earlier curve)")
CHECKSUM_FIX = "restore it, or delete it to load the checkpoint unverified"
METHOD_CARD_KEYS = {"name": str, "description": str, "parameter_counts": dict, "departures": list,
                    "protocol": dict, "mean_pixel": list}


class RunError(RuntimeError):
    """A run folder that cannot be created, resumed or read as asked."""


class CheckpointError(RunError):
    """A checkpoint file that cannot be read, or does not match its recorded checksum."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while a file was being written: says which, and that its old version is kept."""


def write_failure(path: Path, error: BaseException, kept: str) -> BaseException:
    """The one-line error for a failed write of `path`; `kept` says what survives."""
    if isinstance(error, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (bench.cli.Terminated)
        how = str(error).split(" (")[0] if str(error) else "interrupted"
        return Interrupted(f"{how} while writing {path}; {kept}")
    reason = ("no space left on device" if getattr(error, "errno", None) == errno.ENOSPC
              else getattr(error, "strerror", None) or str(error))
    return RunError(f"{path}: could not be written ({reason}); {kept}")


KEPT_ATOMIC = "it was not changed (its previous version, if any, is intact) and nothing else was lost"


# --- atomic writes -----------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", kept: str = "") -> Iterator[Any]:
    """Open a temporary file beside `path`; on success fsync it and rename it over `path`.

    A failure while writing (a full disk, Ctrl-C) leaves `path` as it was; it is raised as one
    line naming `path` and saying so, or `kept` when given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a written file follows the umask
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, (OSError, KeyboardInterrupt)) and not isinstance(error, Interrupted):
            raise write_failure(path, error, kept or KEPT_ATOMIC) from error
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path, "wb") as handle:
        handle.write(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


class _HashingWriter:
    """A file wrapper for torch.save that hashes what is written and keeps the first error.

    torch.save turns an error raised inside its write callback (ENOSPC, KeyboardInterrupt) into
    an opaque RuntimeError ("unexpected pos …"); the kept error is re-raised instead.
    """

    def __init__(self, handle: Any) -> None:
        self.handle, self.digest, self.error = handle, hashlib.sha256(), None

    def write(self, data: Any) -> int:
        try:
            written = self.handle.write(data)
        except BaseException as error:
            self.error = self.error or error
            raise
        self.digest.update(data)
        return written

    def flush(self) -> None:
        self.handle.flush()


def save_torch(path: Path, obj: Any, before_rename: Any = None, kept: str = "") -> str:
    """torch.save `obj` atomically; return its sha256. `before_rename(sha)` runs just before
    the file appears under its name."""
    import torch

    with atomic_file(path, "wb", kept) as handle:
        writer = _HashingWriter(handle)
        try:
            torch.save(obj, writer)
        except BaseException:
            if writer.error is not None:
                raise writer.error from None
            raise
        if before_rename is not None:
            before_rename(writer.digest.hexdigest())
    return writer.digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporary files a killed process left behind in `folder`."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


# --- append-only logs --------------------------------------------------------------------------
def repair_log(path: Path) -> None:
    """Cut a torn last line (a process killed mid-append) off a line-oriented log."""
    if not path.is_file():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
            os.fsync(handle.fileno())


def append_lines(path: Path, lines: list[str]) -> None:
    """Append whole lines and fsync, so a crash loses at most the batch being written."""
    try:
        with path.open("a") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
    except (OSError, KeyboardInterrupt) as error:
        raise write_failure(path, error, "the lines before this batch are kept (a torn last line "
                            "is cut on the next run) and nothing else was lost; rerun the same "
                            "command to continue") from error


def csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


# --- the run folder ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def manifest_file(self) -> Path:
        return self.path / "manifest.json"

    @property
    def method_file(self) -> Path:
        return self.path / "method.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def tb(self) -> Path:
        return self.path / "tb"

    @property
    def losses_file(self) -> Path:
        return self.path / "losses.csv"

    @property
    def validation_file(self) -> Path:
        """Validation during training (bench.records.validation)."""
        return self.path / "validation.csv"

    @property
    def divergence_file(self) -> Path:
        """The signs of divergence training saw (bench.records.divergence)."""
        return self.path / "divergence.csv"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    @property
    def rows_file(self) -> Path:
        return self.eval_dir / "rows.csv"

    @property
    def plan_file(self) -> Path:
        """What each evaluation set out to score (bench.records.rows.record_plan)."""
        return self.eval_dir / "plan.json"

    @property
    def samples_dir(self) -> Path:
        """The sample composites evaluation saves, one sub-folder per mask setting."""
        return self.eval_dir / "samples"

    @property
    def predictions_listing(self) -> Path:
        """Supplied outputs' sha256 listing (sha256sum's format), for a predictions run."""
        return self.eval_dir / "predictions.sha256"

    @property
    def known_pixels_file(self) -> Path:
        """How much each supplied output changed the known pixels, for a predictions run."""
        return self.eval_dir / "known_pixels.csv"

    def row_part(self, rank: int) -> Path:
        """The rows shard process `rank` writes under torchrun (merged into rows_file)."""
        return self.eval_dir / f"rows.part{rank:03d}.csv"

    def row_parts(self) -> list[Path]:
        return sorted(self.eval_dir.glob("rows.part*.csv"))

    def read_manifest(self) -> Manifest:
        """The run's manifest record (bench.records.manifest), checked field by field."""
        data = read_json(self.manifest_file, MANIFEST_FIX)
        try:
            return manifest_record.from_dict(self.manifest_file, data)
        except manifest_record.ManifestError as error:
            raise manifest_record.ManifestError(f"{error}; {MANIFEST_FIX}") from None

    def write_manifest(self, manifest: Manifest) -> None:
        write_json(self.manifest_file, manifest.to_dict())

    def read_config(self) -> Config:
        """The run's config.yaml (never empty: it is the resolved config the run was made with)."""
        raw = reading.yaml_mapping(self.config_file, CONFIG_FIX, config_module.parse_yaml)
        if not raw:
            raise reading.fail(self.config_file, "holds no keys", CONFIG_FIX)
        return config_module.from_dict(raw, source=str(self.config_file))

    def read_method_card(self) -> dict[str, Any]:
        """method.json (what `write_method_card` wrote), each key checked for its type."""
        card = read_json(self.method_file, METHOD_CARD_FIX)
        for key, kind in METHOD_CARD_KEYS.items():
            if key not in card:
                raise reading.fail(self.method_file, f"no key {key!r}", METHOD_CARD_FIX)
            if not isinstance(card[key], kind):
                raise reading.fail(self.method_file, f"{key} is a {type(card[key]).__name__}, "
                                   f"expected a {kind.__name__}", METHOD_CARD_FIX)
        return card

    def update_manifest(self, **changes: Any) -> Manifest:
        manifest = self.read_manifest().replace(**changes)
        self.write_manifest(manifest)
        return manifest


def run_dir_for(config: Config, root: Path = RUNS_ROOT) -> Path:
    return Path(root) / config.run_id


def open_run(path: Path, config: Config, *, command: list[str], device: str, world_size: int) -> RunFolder:
    """Create the run folder, or reopen an unfinished one with the same resolved config.

    Returns the folder; its manifest says "running". Resuming appends the time to "resumed".
    """
    run = RunFolder(Path(path))
    wanted = config_module.to_dict(config)
    if run.manifest_file.is_file():
        manifest = run.read_manifest()
        if manifest.status == "finished":
            raise RunError(
                f"{run.path}: run {manifest.run_id!r} is finished and is never overwritten; "
                f"evaluate it with `inpaint-bench evaluate {run.path}` or train again under a "
                "new id (--run-id NEW)"
            )
        if manifest.diverged_at is not None:  # resuming would replay the same steps into it
            raise RunError(
                f"{run.path}: run {manifest.run_id!r} stopped on divergence at step "
                f"{manifest.diverged_at} (train.stop_on_divergence) and is not resumed: the same "
                "steps would lead to the same divergence; evaluate its last checkpoint, from "
                f"before it (`inpaint-bench evaluate {run.path}`), or train again under a new id "
                "(--run-id NEW) with a lower learning rate"
            )
        stored = config_module.to_dict(run.read_config())
        changed = config_module.differences(stored, wanted)
        if changed and never_started(run):  # nothing to resume: the new config takes the id
            run.method_file.unlink(missing_ok=True)
            write_text(run.config_file, config_module.dump(config))
            run.write_manifest(new_manifest(config, command=command, device=device,
                                            world_size=world_size))
            return run
        if changed:
            raise RunError(
                f"{run.path}: unfinished run has a different config ({', '.join(changed)}); "
                "rerun with its config.yaml to resume, or pick a new id (--run-id NEW)"
            )
        remove_stale_temporaries(run.path)
        remove_stale_temporaries(run.checkpoints)
        run.write_manifest(manifest.replace(  # error: left by a failed attempt
            status="running", error=None, resumed=[*manifest.resumed, _now()], command=command,
            device=device, world_size=world_size,  # a run from before uids gets one now
            run_uid=manifest.run_uid or manifest_record.new_uid()))
        return run
    run.path.mkdir(parents=True, exist_ok=True)
    run.checkpoints.mkdir(exist_ok=True)
    write_text(run.config_file, config_module.dump(config))
    run.write_manifest(new_manifest(config, command=command, device=device, world_size=world_size)
                       .replace(provenance=trained_provenance(config)))
    return run


def open_evaluation_run(path: Path, config: Config, *, command: list[str], device: str,
                        checkpoint: Path | None, provenance: dict[str, Any] | None = None) -> RunFolder:
    """A run folder for scoring an official checkpoint, or a training-free method (checkpoint
    None), nothing being trained in it.

    Created finished, its manifest holding `provenance` (Method.load_official's record);
    reopened if its method and data settings and its provenance match.
    """
    run = RunFolder(Path(path))
    wanted = config_module.to_dict(config)
    if run.manifest_file.is_file():
        stored = config_module.to_dict(run.read_config())
        changed = [k for k in config_module.differences(stored, wanted)
                   if k.split(".")[0] in ("method", "data")]
        if changed:
            raise RunError(f"{run.path}: holds another evaluation ({', '.join(changed)} differ); "
                           "pick a new id (--run-id NEW)")
        if run.read_manifest().provenance != provenance:
            raise RunError(f"{run.path}: holds an evaluation of other weights (provenance "
                           "differs); pick a new id (--run-id NEW)")
        return run
    run.path.mkdir(parents=True, exist_ok=True)
    write_text(run.config_file, config_module.dump(config))
    manifest = new_manifest(config, command=command, device=device, world_size=1)
    run.write_manifest(manifest.replace(status="finished", finished=manifest.started,
                                        official_checkpoint=None if checkpoint is None else str(checkpoint),
                                        provenance=provenance))
    return run


def new_manifest(config: Config, *, command: list[str], device: str, world_size: int) -> Manifest:
    """The manifest of a run starting now: running, never resumed."""
    sha, dirty = git_state()
    entry = methods.REGISTRY.get(config.method.name)  # None: outputs scored by bench.predictions
    plugin = {entry.package: entry.version} if entry is not None and entry.package else {}
    return Manifest(run_id=config.run_id, profile=config.run.profile, method=config.method.name,
                    dataset=config.data.dataset, git_sha=sha, git_dirty=dirty,
                    packages={**package_versions(), **plugin}, command=command, seed=config.train.seed,
                    device=device, world_size=world_size, started=_now(), run_uid=manifest_record.new_uid())


TRAINING_FREE_PROVENANCE = {"kind": "training-free"}  # a method with nothing to train or load


def shared_provenance(config: Config, trained_in: Path, checkpoint: Path) -> dict[str, Any]:
    """A run evaluated from another run's training of the same network under the same recipe."""
    return {"kind": "shared", "run": Path(trained_in).name, "checkpoint": Path(checkpoint).name,
            "recipe": config.run.recipe}


def trained_provenance(config: Config) -> dict[str, Any]:
    """Where a trained run's weights come from: training, under its profile's recipe label."""
    return {"kind": "trained", "recipe": config.run.recipe}


def never_started(run: RunFolder) -> bool:
    """No checkpoint (good or set aside) and no logged step: a run that failed during set-up."""
    logged = run.losses_file.is_file() and len(run.losses_file.read_bytes().splitlines()) > 1
    set_aside_any = run.checkpoints.is_dir() and any(run.checkpoints.glob("step_*.pt.corrupt"))
    return not list_checkpoints(run) and not logged and not set_aside_any


def run_status(run: RunFolder) -> tuple[str, str | None]:
    """(status, detail) as it is now: 'running' (detail: the lock's holder) only while a live
    process holds the run's lock; 'failed' with the run's one-line error; 'finished'.

    A manifest left at 'running' by a process that died (SIGKILL, power loss, a disk too full
    to record its error) reads as 'failed'; a finished run whose lock a live evaluator holds is
    'evaluating'; a folder holding nothing but its lock file is 'never started'."""
    if run.path.is_dir() and all(p.name == lock.LOCK_NAME for p in run.path.iterdir()):
        return "never started", "the folder holds only its lock file: nothing was written"
    manifest = run.read_manifest()
    status, error = manifest.status, manifest.error
    holder = lock.holder(run.path)
    if holder is not None and status != "finished":
        return "running", lock.describe(holder)
    if holder is not None:
        return "evaluating", f"{lock.describe(holder)}; its rows are incomplete until it ends"
    if status == "running":
        return "failed", error or ("stopped without recording why (killed, or its machine or disk "
                                   "failed); rerun its command to resume from the last checkpoint")
    return status, error if status == "failed" else None


def finish_run(run: RunFolder) -> None:
    run.update_manifest(status="finished", finished=_now())


def fail_run(run: RunFolder, message: str) -> None:
    """Mark a run stopped by an error; rerunning the command resumes from its last checkpoint."""
    run.update_manifest(status="failed", error=message)


def git_state() -> tuple[str | None, bool | None]:
    """(HEAD SHA, working tree dirty) of the harness's repository; (None, None) outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True, timeout=30).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                                text=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha, bool(status.strip())


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    import torch  # here, not at the top: the command line's parser reads this module and must start fast

    versions["cuda"] = torch.version.cuda
    return versions


def command_line() -> list[str]:
    return [sys.executable, *sys.argv]


# --- checkpoints -------------------------------------------------------------------------------
def checkpoint_path(run: RunFolder, step: int) -> Path:
    return run.checkpoints / f"step_{step:07d}.pt"


def list_checkpoints(run: RunFolder) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    if not run.checkpoints.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run.checkpoints.iterdir()
             if (m := CHECKPOINT_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run: RunFolder) -> Path | None:
    found = list_checkpoints(run)
    return found[-1] if found else None


def checksum_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".sha256")


def save_checkpoint(run: RunFolder, step: int, state: dict[str, Any], keep_last: int,
                    written: Callable[[Path, str], None] | None = None) -> Path:
    """Write `state` as checkpoint `step` atomically with its checksum file, call
    `written(path, sha256)` (the manifest records it), then delete all but the last `keep_last`
    (with theirs)."""
    path = checkpoint_path(run, step)
    previous = latest_checkpoint(run)
    kept = ("the partial file was discarded and nothing was lost: "
            + (f"the last complete checkpoint is {previous.name}" if previous else "no earlier checkpoint exists")
            + "; rerun the same command to resume")
    sha256 = save_torch(path, state, kept=kept, before_rename=lambda sha: write_text(
        checksum_path(path), f"{sha}  {path.name}\n"))
    if written is not None:
        written(path, sha256)
    for old in list_checkpoints(run)[:-keep_last]:
        old.unlink(missing_ok=True)
        checksum_path(old).unlink(missing_ok=True)
    return path


RUN_CHECKPOINT_KEYS = ("step", "method_name", "spec", "method", "rng")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def recorded_checksum(path: Path) -> str | None:
    """The sha256 recorded beside checkpoint `path` (None without a `.sha256` file); a damaged
    checksum file is a CheckpointError naming it."""
    record = checksum_path(path)
    if not record.is_file():
        return None
    try:
        words = reading.text(record, CHECKSUM_FIX).split()
        if not words or not re.fullmatch(r"[0-9a-f]{64}", words[0]):
            raise reading.fail(record, "not a sha256sum line (64 hex digits, then the file name)",
                               CHECKSUM_FIX)
    except reading.RecordError as error:
        raise CheckpointError(str(error)) from None
    return words[0]


def verify_checkpoint(path: Path) -> None:
    """Compare a checkpoint with its `.sha256` file; raise CheckpointError if they differ.

    A checkpoint without one (written before checksums were recorded) passes unverified."""
    record = checksum_path(path)
    expected = recorded_checksum(path)
    if expected is None:
        return
    try:
        actual = file_sha256(path)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read checkpoint ({error.strerror or error})") from None
    if actual != expected:
        raise CheckpointError(f"{path}: checksum {actual[:12]}… differs from {expected[:12]}… "
                              f"recorded in {record.name} when it was written; the file is corrupt")


RUN_CHECKPOINT = "a run checkpoint written by `inpaint-bench train` (torch.save's zip format)"


def read_torch(path: Path, expected: str = RUN_CHECKPOINT, map_location: str | torch.device = "cpu",
               weights_only: bool = False) -> Any:
    """torch.load `path`; any failure is a CheckpointError naming it and what was `expected`."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as error:  # torch and pickle raise many kinds for a file that is not one
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({detail}); expected "
                              f"{expected}") from None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A run checkpoint, verified against its checksum; CheckpointError names the file and what
    was expected of it."""
    verify_checkpoint(path)
    state = read_torch(path, RUN_CHECKPOINT, map_location)
    missing = [k for k in RUN_CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path}: not a run checkpoint (no {', '.join(missing)}); expected "
                              "one written by `inpaint-bench train` (for official weights use "
                              "`evaluate CONFIG --official FILE`)")
    return state


def remove_orphan_checksums(run: RunFolder) -> list[Path]:
    """Delete the `.sha256` files whose checkpoint is gone (a process stopped between deleting
    an old checkpoint and its checksum); return them."""
    orphans = [p for p in sorted(run.checkpoints.glob("*.sha256")) if not p.with_suffix("").exists()] \
        if run.checkpoints.is_dir() else []
    for orphan in orphans:
        orphan.unlink()
    return orphans


def set_aside(path: Path) -> Path:
    """Rename a bad checkpoint (and its checksum file) out of the checkpoint list."""
    target = Path(path).with_name(Path(path).name + ".corrupt")
    os.replace(path, target)
    if checksum_path(path).is_file():
        os.replace(checksum_path(path), checksum_path(target))
    return target


def newest_good_checkpoint(run: RunFolder, note: Any) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that verifies and loads, with its state; each bad one on the way
    is set aside and `note`d, checksum files left without their checkpoint are removed (`note`d).
    None when there is none."""
    orphans = remove_orphan_checksums(run)
    if orphans:
        note(f"removed {len(orphans)} checksum file(s) left without their checkpoint by an "
             f"interrupted clean-up: {', '.join(p.name for p in orphans)}")
    for path in reversed(list_checkpoints(run)):
        try:
            return path, load_checkpoint(path)
        except CheckpointError as error:
            note(f"{error}; set aside as {set_aside(path).name}, trying the checkpoint before it")
    return None


def last_checkpoint(run: RunFolder) -> Path:
    """The run's last checkpoint: the file its manifest recorded as the last it wrote, checked
    against the sha256 recorded with it, never merely the largest step among the files (a file
    copied into checkpoints/ is not the run's). A manifest written before the last checkpoint was
    recorded: the newest checkpoint by step, as then."""
    manifest = run.read_manifest()
    if manifest.last_checkpoint is None:
        found = latest_checkpoint(run)
        if found is None:
            raise RunError(f"{run.checkpoints}: no checkpoint; train the run first")
        return found
    path = run.checkpoints / manifest.last_checkpoint
    fix = "restore it, or name the checkpoint to score with --checkpoint STEP"
    if not path.is_file():
        raise RunError(f"{path}: missing, yet {run.manifest_file} records it as the run's last "
                       f"checkpoint; {fix}")
    verify_checkpoint(path)  # a damaged file is named as such first
    found = recorded_checksum(path) or file_sha256(path)
    if found != manifest.last_checkpoint_sha256:
        raise CheckpointError(f"{path}: sha256 {found[:12]}… is not the "
                              f"{str(manifest.last_checkpoint_sha256)[:12]}… recorded in "
                              f"{run.manifest_file} when the run wrote it (the file was replaced); {fix}")
    return path


def resolve_checkpoint(run: RunFolder, which: str | int | Path | None) -> Path:
    """A run's checkpoint by None/'last' (`last_checkpoint`), a step number, a file name, or a path."""
    if which in (None, "last"):
        return last_checkpoint(run)
    if isinstance(which, int) or (isinstance(which, str) and which.isdigit()):
        path = checkpoint_path(run, int(which))
    else:
        path = Path(which)
        if not path.is_file() and (run.checkpoints / path).is_file():
            path = run.checkpoints / path
    if not path.is_file():
        raise RunError(f"{path}: checkpoint not found")
    return path


# --- losses.csv --------------------------------------------------------------------------------
def truncate_losses(run: RunFolder, before_step: int) -> None:
    """Keep only loss rows of steps < `before_step` (a resumed run logs the rest again); a
    losses.csv without its header, or otherwise damaged, is refused (bench.records.reading)."""
    truncate_steps(run.losses_file, LOSS_COLUMNS, LOSSES_FIX, before_step)


def truncate_steps(path: Path, columns: Sequence[str], fix: str, before_step: int) -> None:
    """Keep only the rows with step < `before_step` of a step-keyed CSV log whose header is
    `columns` (the first of them `step`), read through the one CSV reader: a torn last line is
    cut, a damaged file refused naming it."""
    if not path.is_file():
        return
    repair_log(path)
    if path.stat().st_size == 0:
        path.unlink()
        return
    kept = [row for row in reading.csv_rows(path, columns, fix, numbers=("step",)) if row["step"] < before_step]
    with atomic_file(path, "w") as target:
        target.write(csv_line(list(columns)))
        for row in kept:
            target.write(csv_line([int(row["step"]), *(row[c] for c in columns[1:])]))


def read_losses(path: Path) -> list[dict[str, Any]]:
    """The complete rows of a losses.csv (step a number, name and value as written); a torn
    last line is ignored, a damaged file is one RecordError line."""
    found = reading.csv_rows(path, LOSS_COLUMNS, LOSSES_FIX, numbers=("step",))
    for number, row in enumerate(found, start=2):
        try:
            float(row["value"])
        except ValueError:
            raise reading.fail(path, f"line {number}: value {row['value']!r} is not a number",
                               LOSSES_FIX) from None
    return found


def append_losses(run: RunFolder, step: int, losses: dict[str, float]) -> None:
    path = run.losses_file
    lines = [] if path.is_file() else [csv_line(list(LOSS_COLUMNS))]
    lines += [csv_line([step, name, repr(float(value))]) for name, value in losses.items()]
    append_lines(path, lines)


def write_method_card(run: RunFolder, method: Any, description: str, mean_pixel: tuple[float, ...]) -> None:
    write_json(run.method_file, {
        "name": method.name,
        "description": description,
        "parameter_counts": method.parameter_counts(),
        "departures": list(method.departures()),
        "protocol": dict(method.protocol()),
        "mean_pixel": list(mean_pixel),
    })


def read_json(path: Path, fix: str = "restore it, or write it again with the command that made it") -> dict[str, Any]:
    """A JSON record holding an object; a damaged one is one line saying `fix` (bench.records.reading)."""
    return reading.json_object(path, fix)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

