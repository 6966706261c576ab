"""The weights folder: where the authors' released weights live, and what a weights file is.

Layout: WEIGHTS_ROOT/<release name>/<files as the authors distribute them>, one sub-folder per
`Release` a method lists in `Method.releases()` (e.g. weights/picnet-paris-center/latest_net_E.pth
and latest_net_G.pth). `release_path` gives what `Method.load_official` takes; `check_releases`
is `weights check`; `inspect_path` is `weights inspect`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import methods
from bench.records import checkpoint as checkpoint_record
from bench.method import (Method, MethodSpec, OfficialWeights, Release, ReleaseError,
                          check_official, sha256)


def find_release(method: Method, release_name: str) -> Release:
    """The release `release_name` of `method`; an unknown name raises ReleaseError listing them."""
    for release in method.releases():
        if release.name == release_name:
            return release
    known = ", ".join(r.name for r in method.releases()) or "none"
    raise ReleaseError(f"method {method.name!r} has no release {release_name!r}; known: {known}")


def release_files(release: Release, root: Path) -> dict[str, list[Path]]:
    """Each of the release's file names (or patterns) → the files under root/<name>/ it matches
    (one when found: a pattern such as PEN-Net's gen_*.pth must match exactly one file)."""
    folder = Path(root) / release.name
    return {name: sorted(p for p in folder.glob(name) if p.is_file()) if folder.is_dir() else []
            for name in release.files}


def release_path(method: Method, release_name: str, root: Path) -> Path:
    """What to pass to `method.load_official` for release `release_name` under `root`: the file
    of a one-file release, else the release folder. A missing file raises ReleaseError naming it
    and the authors' download page."""
    release = find_release(method, release_name)
    found = release_files(release, root)
    for name, matches in found.items():
        where = Path(root) / release.name / name
        if not matches:
            raise ReleaseError(f"{where}: released weights not found (release {release.name!r}; "
                               f"download from {release.source})")
        if len(matches) > 1:
            raise ReleaseError(f"{where}: {len(matches)} files match ({', '.join(p.name for p in matches)}); "
                               "keep the one to use")
    if len(found) == 1:
        return next(iter(found.values()))[0]
    return Path(root) / release.name


def resolve(method: Method, value: str | Path, root: str | Path | None) -> Path:
    """`value` as given (a file or release folder), or a release name looked up under `root`.
    What is not found is named with where it was looked for and where to download it."""
    path = Path(value)
    if path.exists():
        return path
    releases = {r.name: r for r in method.releases()}
    if str(value) in releases:
        if root is None:
            raise ReleaseError(f"{value}: a release name needs the weights folder (--weights-root DIR or "
                               f"weights.root) holding {value}/, downloaded from {releases[str(value)].source}")
        return release_path(method, str(value), Path(root))
    named = [r for r in releases.values() if r.name in path.parts]
    where = (f"release {named[0].name!r}: download from {named[0].source}" if named else
             f"nor a release of {method.name} (its releases: {', '.join(releases) or 'none'}; "
             "`inpaint-bench weights check --weights-root DIR` lists their download pages)")
    raise ReleaseError(f"{value}: released weights not found (no file or folder {path.absolute()}); {where}")


def methods_with_releases(names: list[str] | None = None) -> list[Method]:
    """One instance (256 px) of each built-in method that lists releases (or of `names`, which
    may name plugins: a broken plugin stops only a command that asks for it)."""
    built = [methods.create(n, MethodSpec()) for n in (names or list(methods.BUILTINS))]
    return [m for m in built if m.releases()] if names is None else built


def check_releases(root: Path, names: list[str] | None = None) -> list[dict[str, Any]]:
    """`weights check`: per release and file, found or missing, its sha256, and whether its
    content loads into the method's networks (status ok / MISMATCH / missing)."""
    if not Path(root).is_dir():
        raise ReleaseError(f"--weights-root {root}: " + ("not a folder" if Path(root).exists() else
                           "no such folder") + " (it holds one sub-folder per release: ROOT/<release name>/)")
    report = []
    for method in methods_with_releases(names):
        for release in method.releases():
            found = release_files(release, root)
            row = {"method": method.name, "release": release.name, "source": release.source,
                   "files": {name: [(p, sha256(p)) for p in matches] for name, matches in found.items()}}
            if any(len(matches) != 1 for matches in found.values()):
                row["status"], row["error"] = "missing", None
            else:
                try:
                    method.load_official(release_path(method, release.name, root))
                    row["status"], row["error"] = "ok", None
                except ReleaseError as error:
                    row["status"], row["error"] = "MISMATCH", str(error)
            report.append(row)
    return report


def inspect_path(path: Path, names: list[str] | None = None) -> list[str]:
    """`weights inspect`: what released weights `path` holds and where each tensor lands."""
    path = Path(path)
    if not path.exists():
        raise ReleaseError(f"{path}: released weights not found")
    run_checkpoint = checkpoint_record.load_if_run_checkpoint(path) if path.is_file() else None
    if run_checkpoint is not None:
        return [f"format   a run checkpoint of {run_checkpoint.method_name}, step {run_checkpoint.step} "
                "(written by `inpaint-bench train`; not released weights)",
                f"file     {path}  sha256 {sha256(path)}",
                f"setting  image_size = {run_checkpoint.spec.image_size}",
                f"use      inpaint-bench inpaint --method {run_checkpoint.method_name} --checkpoint {path} …, "
                "or evaluate its run folder"]
    reasons = []
    for method in methods_with_releases(names):
        try:
            weights = method.read_official(path)
        except ReleaseError as error:
            reasons.append(f"{method.name}: {error}")
            continue
        return describe(method, weights)
    raise ReleaseError(f"{path}: not released weights of any method ({'; '.join(reasons)})")


def describe(method: Method, weights: OfficialWeights) -> list[str]:
    networks = list(dict.fromkeys(t.network for t in weights.tensors))
    try:
        check_official(method.networks, weights)
        status = "matches our networks (a strict load fills every entry)"
    except ReleaseError as error:
        status = f"MISMATCH: {error}"
    parameters = {n: {k for k, _ in method.networks[n].named_parameters()} for n in networks}
    counts = {n: sum(t.tensor.numel() for t in weights.tensors
                     if t.network == n and t.key in parameters[n]) for n in networks}
    lines = [f"format   {weights.format} (method {method.name})"]
    lines += [f"file     {f}  sha256 {sha256(f)}" for f in weights.files]
    lines += [f"network  {n}: {counts[n]:,d} parameters in "
              f"{sum(t.network == n for t in weights.tensors)} tensors" for n in networks]
    lines += [f"setting  {k} = {v}" for k, v in weights.settings.items()]
    lines.append(f"status   {status}")
    lines.append("tensors  (in the file → in our networks)")
    width = max(len(t.source_key) for t in weights.tensors)
    lines += [f"  {t.source_key:{width}s}  {'x'.join(map(str, t.tensor.shape)) or 'scalar':>14s}  →  "
              f"{t.network}.{t.key}" for t in weights.tensors]
    return lines
