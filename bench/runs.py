"""Run folders: results/runs/<id>/ with its config, manifest, method card and checkpoints.

Layout (see the interfaces brief): config.yaml, manifest.json, method.json, checkpoints/
step_NNNNNNN.pt (the last K kept), tb/, losses.csv, eval/. Every file is written atomically
(temporary file in the same folder, flush + fsync, os.replace), so a crash leaves either the old
or the new version. A finished run is never overwritten; an unfinished one with the same
resolved config resumes; one with a different config is an error naming the differing keys.
"""

from __future__ import annotations

import contextlib
import csv
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
from typing import Any, Iterator

import torch

from bench import config as config_module
from bench.config import Config

RUNS_ROOT = Path("results/runs")
PACKAGES = ("torch", "numpy", "pillow", "scikit-image", "pytorch-msssim", "pandas", "pyyaml",
            "tensorboard", "inpaint-bench")
CHECKPOINT_PATTERN = re.compile(r"^step_(\d{7,})\.pt$")
LOSS_COLUMNS = ("step", "name", "value")


class RunError(RuntimeError):
    """A run folder that cannot be created, resumed or read as asked."""


# --- atomic writes -----------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file beside `path`; on success fsync it and rename it over `path`."""
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
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
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


def save_torch(path: Path, obj: Any) -> None:
    with atomic_file(path, "wb") as handle:
        torch.save(obj, handle)


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
    with path.open("a") as handle:
        handle.write("".join(lines))
        handle.flush()
        os.fsync(handle.fileno())


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
    def eval_dir(self) -> Path:
        return self.path / "eval"

    def read_manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_file)

    def read_config(self) -> Config:
        return config_module.load(self.config_file)

    def update_manifest(self, **changes: Any) -> dict[str, Any]:
        manifest = {**self.read_manifest(), **changes}
        write_json(self.manifest_file, manifest)
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
        if manifest.get("status") == "finished":
            raise RunError(
                f"{run.path}: run {manifest.get('run_id')!r} is finished and is never overwritten; "
                f"evaluate it with `inpaint-bench evaluate {run.path}` or train again under a "
                "new id (--run-id NEW)"
            )
        stored = config_module.to_dict(run.read_config())
        changed = config_module.differences(stored, wanted)
        if changed:
            raise RunError(
                f"{run.path}: unfinished run has a different config ({', '.join(changed)}); "
                "rerun with its config.yaml to resume, or pick a new id (--run-id NEW)"
            )
        remove_stale_temporaries(run.path)
        remove_stale_temporaries(run.checkpoints)
        manifest.pop("error", None)  # left by a failed attempt
        write_json(run.manifest_file, {
            **manifest, "status": "running", "resumed": manifest.get("resumed", []) + [_now()],
            "command": command, "device": device, "world_size": world_size,
        })
        return run
    run.path.mkdir(parents=True, exist_ok=True)
    run.checkpoints.mkdir(exist_ok=True)
    write_text(run.config_file, config_module.dump(config))
    write_json(run.manifest_file, {**new_manifest(config, command=command, device=device,
                                                  world_size=world_size),
                                   "provenance": trained_provenance(config)})
    return run


def open_evaluation_run(path: Path, config: Config, *, command: list[str], device: str,
                        checkpoint: Path, provenance: dict[str, Any] | None = None) -> RunFolder:
    """A run folder for scoring an official checkpoint (nothing is trained in it).

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
        if run.read_manifest().get("provenance") != provenance:
            raise RunError(f"{run.path}: holds an evaluation of other weights (provenance "
                           "differs); pick a new id (--run-id NEW)")
        return run
    run.path.mkdir(parents=True, exist_ok=True)
    write_text(run.config_file, config_module.dump(config))
    manifest = new_manifest(config, command=command, device=device, world_size=1)
    write_json(run.manifest_file, {**manifest, "status": "finished", "finished": manifest["started"],
                                   "official_checkpoint": str(checkpoint), "provenance": provenance})
    return run


def new_manifest(config: Config, *, command: list[str], device: str, world_size: int) -> dict[str, Any]:
    sha, dirty = git_state()
    return {
        "run_id": config.run_id,
        "profile": config.run.profile,
        "method": config.method.name,
        "dataset": config.data.dataset,
        "git_sha": sha,
        "git_dirty": dirty,
        "packages": package_versions(),
        "command": command,
        "seed": config.train.seed,
        "device": device,
        "world_size": world_size,
        "started": _now(),
        "finished": None,
        "status": "running",
        "resumed": [],
    }


def trained_provenance(config: Config) -> dict[str, Any]:
    """Where a trained run's weights come from: training, under its profile's recipe label."""
    return {"kind": "trained", "recipe": config.run.recipe}


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


def save_checkpoint(run: RunFolder, step: int, state: dict[str, Any], keep_last: int) -> Path:
    """Write `state` as checkpoint `step` atomically, then delete all but the last `keep_last`."""
    path = checkpoint_path(run, step)
    save_torch(path, state)
    for old in list_checkpoints(run)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (OSError, RuntimeError, EOFError) as error:
        raise RunError(f"{path}: cannot read checkpoint ({error})") from None


def resolve_checkpoint(run: RunFolder, which: str | int | Path | None) -> Path:
    """A run's checkpoint by None/'last', a step number, a file name, or a path."""
    if which in (None, "last"):
        found = latest_checkpoint(run)
        if found is None:
            raise RunError(f"{run.checkpoints}: no checkpoint; train the run first")
        return found
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
    """Keep only loss rows of steps < `before_step` (a resumed run logs the rest again)."""
    path = run.losses_file
    if not path.is_file():
        return
    repair_log(path)
    if path.stat().st_size == 0:
        path.unlink()
        return
    with path.open(newline="") as source, atomic_file(path, "w") as target:
        rows = csv.reader(source)
        target.write(csv_line(next(rows)))
        for row in rows:
            if int(row[0]) < before_step:
                target.write(csv_line(row))


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


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: cannot read ({error})") from None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

