"""The protocol's test set as files, for methods the harness does not run itself.

`export` writes, for every mask setting, what the evaluator prepares for image i: the ground
truth at the working size (`OUT/<setting>/truth/<id>.png`, the uint8 image the evaluator turns
into its tensor), the fixed hole mask i (`masks/<id>.png`, white = hole, the mask every method
gets) and the masked input (`input/<id>.png`, holes white); then `manifest.csv` (id, setting,
bucket, mask id, domain, hole ratio, sha256 of every file) and `protocol.json` (dataset, test
split fingerprint, size, mask seed and source, each setting's mask-set checksum, resize filter,
quantisation, harness version and commit, manifest.csv's sha256). Nothing in it depends on the
time or the machine, so two exports of one protocol are byte-identical.

`read` verifies a test set (protocol.json, manifest.csv's checksum, every file's) before
anything is scored against it (bench.predictions).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import config as config_module
from bench import runs
from bench.config import Config
from bench.data import mask_families, masks, splits
from bench.records import reading
from bench.evaluate import png_bytes, test_mask_set
from bench.setup import open_data

FORMAT = 1
PROTOCOL_FILE = "protocol.json"
MANIFEST_FILE = "manifest.csv"
VIEWS = ("truth", "masks", "input")  # the three folders of a setting
COLUMNS = ("id", "setting", "bucket", "mask_id", "domain", "hole_ratio",
           *(f"{view}_sha256" for view in VIEWS))
PROTOCOL_KEYS = ("format", "dataset", "size", "count", "test_split", "settings", "mask_seed",
                 "mask_source", "mask_sets", "resize", "truth", "input", "quantisation",
                 "harness", "manifest_sha256")
RESIZE = "whole image to size×size, Pillow bicubic (bench.data.images.resize_square); sample: fixed crops"
QUANTISATION = ("metrics compare quantize(to_tensor(truth)) with the composite, both as (t+1)/2·255 "
                "truncated to uint8 with a slack of 1e-3 of a level, so the truth is the PNG's own values "
                "(bench.metrics.quantize); a supplied output is 8-bit already "
                "and enters the composite as it is")


class TestSetError(ValueError):
    """A test set folder that cannot be written or does not verify."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_name(image_id: str) -> str:
    """The file of image `image_id` in each view folder (ids of real datasets may hold '/')."""
    return f"{image_id}.png"


@dataclass(frozen=True)
class Entry:
    """One (setting, image) of a test set, as manifest.csv lists it."""

    id: str
    setting: str
    bucket: str
    mask_id: str
    domain: str
    hole_ratio: str
    truth_sha256: str
    masks_sha256: str
    input_sha256: str

    def path(self, root: Path, view: str) -> Path:
        return Path(root) / self.setting / view / file_name(self.id)


@dataclass(frozen=True)
class TestSet:
    """A verified test set folder: its protocol.json and its manifest's entries."""

    root: Path
    protocol: dict[str, Any]
    entries: list[Entry]

    @property
    def settings(self) -> list[str]:
        return list(self.protocol["settings"])

    def of_setting(self, setting: str) -> list[Entry]:
        return [e for e in self.entries if e.setting == setting]


def mask_source(config: Config) -> str:
    if config.data.nvidia_masks:
        return f"NVIDIA irregular masks ({config.data.nvidia_masks})"
    if config.data.mask_dir:
        return f"a fixed set written by `masks make` ({config.data.mask_dir})"
    return "bench.data.masks seeded generator"


def harness() -> dict[str, str | None]:
    try:
        version = metadata.version("inpaint-bench")
    except metadata.PackageNotFoundError:
        version = None
    return {"version": version, "commit": runs.git_state()[0]}


def protocol_config(dataset: str, *, data_root: Path | None = None, size: int = 256,
                    settings: list[str] | None = None, count: int | None = None,
                    cache_dir: Path | None = None) -> Config:
    """The run config whose evaluation protocol a test set exports (every other key default)."""
    data = {"dataset": dataset, "size": size, **({"root": str(data_root)} if data_root else {}),
            **({"cache_dir": str(cache_dir)} if cache_dir else {})}
    evaluation = {**({"masks": settings} if settings else {}), **({"count": count} if count else {})}
    return config_module.from_dict({"data": data, "eval": evaluation}, source="testset export")


def export(config: Config, out: Path) -> Path:
    """Write the test set of `config`'s protocol (data.*, eval.masks, eval.count,
    eval.mask_seed) to `out`; return its protocol.json."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / PROTOCOL_FILE).is_file():
        raise TestSetError(f"{out}: exists and is not a test set folder (no {PROTOCOL_FILE}); "
                           "give an empty or new folder")
    dataset = open_data(config, "test")
    count = min(config.eval.count or len(dataset), len(dataset))
    entries, mask_sets = [], {}
    for name in config.eval.masks:
        setting = masks.EvalSetting(name)
        mask_set = test_mask_set(config, setting, count)
        listing = []
        for i in range(count):
            truth = np.asarray(dataset.load(i), dtype=np.uint8)
            mask_id, mask = mask_set[i]
            hole = np.asarray(mask) > 0.5
            masked = truth.copy()
            masked[hole] = 255
            files = {"truth": png_bytes(truth), "masks": png_bytes(hole.astype(np.uint8) * 255),
                     "input": png_bytes(masked)}
            image_id = dataset.ids[i]
            for view, data in files.items():
                runs.write_bytes(out / name / view / file_name(image_id), data)
            ratio = torch.from_numpy(np.asarray(mask, dtype=np.float32)).mean().item()  # as the evaluator's rows
            entries.append(Entry(image_id, name, setting.bucket, mask_id, dataset.domains[i], repr(ratio),
                                 *(sha256(files[view]) for view in VIEWS)))
            listing.append(f"{entries[-1].masks_sha256}  {mask_id}\n")
        mask_sets[name] = sha256("".join(listing).encode())
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([[getattr(e, c) for c in COLUMNS] for e in entries])
    manifest_bytes = manifest.getvalue().encode()
    runs.write_bytes(out / MANIFEST_FILE, manifest_bytes)
    families = {n: masks.family_source(n, config.data.mask_dir)
                for n in config.eval.masks if n in mask_families.FAMILIES}
    protocol = {
        "format": FORMAT, "dataset": config.data.dataset, "size": config.data.size, "count": count,
        "test_split": splits.fingerprint(dataset.ids), "settings": list(config.eval.masks),
        "mask_seed": config.eval.mask_seed, "mask_source": mask_source(config), "mask_sets": mask_sets,
        **({"mask_families": families} if families else {}),
        "resize": RESIZE, "truth": "uint8 RGB at size×size, the image the evaluator turns into its tensor",
        "input": "the truth with hole pixels white (255); a method must not read them",
        "quantisation": QUANTISATION, "harness": harness(), "manifest_sha256": sha256(manifest_bytes),
    }
    runs.write_text(out / PROTOCOL_FILE, json.dumps(protocol, indent=2, sort_keys=True) + "\n")
    return out / PROTOCOL_FILE


def read(root: Path) -> TestSet:
    """The test set at `root`, verified: protocol.json complete, manifest.csv and every file
    matching their recorded sha256; TestSetError naming the file otherwise."""
    root = Path(root)
    protocol_path = root / PROTOCOL_FILE
    protocol = reading.json_object(protocol_path, "export the test set again (`inpaint-bench testset export`)")
    missing = [k for k in PROTOCOL_KEYS if k not in protocol]
    if missing:
        raise TestSetError(f"{protocol_path}: missing key(s) {', '.join(missing)}")
    if protocol["format"] != FORMAT:
        raise TestSetError(f"{protocol_path}: format {protocol['format']!r}, this harness reads {FORMAT}")
    manifest_path = root / MANIFEST_FILE
    try:
        data = manifest_path.read_bytes()
    except OSError as error:
        raise TestSetError(f"{manifest_path}: cannot read ({error.strerror or error})") from None
    if sha256(data) != protocol["manifest_sha256"]:
        raise TestSetError(f"{manifest_path}: sha256 differs from the one {protocol_path} records "
                           "(the test set was changed)")
    reader = csv.DictReader(io.StringIO(data.decode()))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise TestSetError(f"{manifest_path}: columns {reader.fieldnames}, expected {list(COLUMNS)}")
    entries = [Entry(**row) for row in reader]
    for entry in entries:
        for view in VIEWS:
            path = entry.path(root, view)
            try:
                digest = sha256(path.read_bytes())
            except OSError as error:
                raise TestSetError(f"{path}: cannot read ({error.strerror or error})") from None
            if digest != getattr(entry, f"{view}_sha256"):
                raise TestSetError(f"{path}: sha256 differs from {manifest_path} (the test set was changed)")
    return TestSet(root, protocol, entries)
