"""A finished run folder read as one typed record: what the report takes from a run.

`read_run_folder(path)` reads the config, the manifest (with its provenance), the method card
and the losses through `bench.runs.RunFolder`'s paths (the one place that names those files);
a file that is absent reads as empty. Config and manifest values are looked up by exact dotted
keys (`record.setting("data.size")`), never searched for at any depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from bench import runs
from bench.records import reading
from bench.records.manifest import Manifest
from bench.runs import RunFolder


def lookup(data: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """data["a"]["b"] for "a.b", or `default` where a level is missing."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


@dataclass(frozen=True)
class RunRecord:
    """One run folder: its config (as written), manifest, method card and training losses."""

    folder: RunFolder
    config: dict[str, Any]
    manifest: Manifest | None  # None when the folder has no manifest.json
    card: dict[str, Any]
    losses: pd.DataFrame | None  # losses.csv (step, name, value); None when absent

    @property
    def path(self) -> Path:
        return self.folder.path

    def setting(self, dotted: str, default: Any = None) -> Any:
        """The config value under an exact dotted key ("train.iterations"), else `default`."""
        return lookup(self.config, dotted, default)

    @property
    def run_id(self) -> str:
        return self.manifest.run_id if self.manifest else str(self.setting("run.id") or self.path.name)

    @property
    def method(self) -> str:
        if self.manifest:
            return self.manifest.shown_method
        return str(self.card.get("name") or self.setting("method.name", "?"))

    @property
    def dataset(self) -> str:
        return self.manifest.dataset if self.manifest else str(self.setting("data.dataset", "?"))

    @property
    def profile(self) -> str | None:
        found = self.manifest.profile if self.manifest else self.setting("run.profile")
        return None if found is None else str(found)

    @property
    def provenance(self) -> dict[str, Any]:
        """The manifest's provenance record ({} for runs written before it existed)."""
        return dict(self.manifest.provenance or {}) if self.manifest else {}

    @property
    def rows_file(self) -> Path:
        return self.folder.rows_file

    @property
    def samples_dir(self) -> Path:
        return self.folder.samples_dir

    def sample_folders(self) -> list[Path]:
        """The per-setting sample folders under eval/samples (empty when none were saved)."""
        return sorted(p for p in self.samples_dir.iterdir() if p.is_dir()) if self.samples_dir.is_dir() else []


def _read_yaml(path: Path) -> dict[str, Any]:
    return reading.yaml_mapping(path, runs.CONFIG_FIX) if path.is_file() else {}


def read_losses(path: Path) -> pd.DataFrame | None:
    """A losses.csv (step, name, value), or None when the file is absent (bench.runs.read_losses:
    a torn last line ignored, a damaged file one line)."""
    if not path.is_file():
        return None
    found = runs.read_losses(path)
    return pd.DataFrame({"step": pd.Series([int(r["step"]) for r in found], dtype="int64"),
                         "name": pd.Series([r["name"] for r in found], dtype=str),
                         "value": pd.Series([float(r["value"]) for r in found], dtype=float)})


def read_run_folder(path: Path) -> RunRecord:
    folder = RunFolder(Path(path))
    if not folder.path.is_dir():
        raise FileNotFoundError(f"run folder not found: {folder.path}")
    return RunRecord(
        folder, _read_yaml(folder.config_file),
        folder.read_manifest() if folder.manifest_file.is_file() else None,
        folder.read_method_card() if folder.method_file.is_file() else {},
        read_losses(folder.losses_file))
