"""The weights folder: where the authors' released weights live, and what a weights file is.

Layout: WEIGHTS_ROOT/<release name>/<files as the authors distribute them>, one sub-folder per
`Release` a method lists in `Method.releases()` (e.g. weights/picnet-paris-center/latest_net_E.pth
and latest_net_G.pth). `release_path` gives what `Method.load_official` takes; `check_releases`
is `weights check`; `inspect_file` is `weights inspect`.
"""

from __future__ import annotations

from pathlib import Path

from bench.method import Method, Release, ReleaseError, sha256  # noqa: F401  (weights check)


def find_release(method: Method, release_name: str) -> Release:
    """The release `release_name` of `method`; an unknown name raises ReleaseError listing them."""
    for release in method.releases():
        if release.name == release_name:
            return release
    known = ", ".join(r.name for r in method.releases()) or "none"
    raise ReleaseError(f"method {method.name!r} has no release {release_name!r}; known: {known}")


def release_files(release: Release, root: Path) -> dict[str, Path | None]:
    """Each of the release's file names (or patterns) → the file found under root/<name>/, or None.

    A pattern (PEN-Net's gen_*.pth) must match exactly one file; several matches count as missing.
    """
    folder = Path(root) / release.name
    found: dict[str, Path | None] = {}
    for name in release.files:
        matches = sorted(p for p in folder.glob(name) if p.is_file()) if folder.is_dir() else []
        found[name] = matches[0] if len(matches) == 1 else None
    return found


def release_path(method: Method, release_name: str, root: Path) -> Path:
    """What to pass to `method.load_official` for release `release_name` under `root`: the file
    of a one-file release, else the release folder. A missing file raises ReleaseError naming it
    and the authors' download page."""
    release = find_release(method, release_name)
    found = release_files(release, root)
    for name, path in found.items():
        if path is None:
            raise ReleaseError(f"{Path(root) / release.name / name}: released weights not found "
                               f"(release {release.name!r}; download from {release.source})")
    if len(found) == 1:
        return next(iter(found.values()))
    return Path(root) / release.name
