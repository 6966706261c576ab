"""The protocol's test set as files, for methods the harness does not run itself.

`export` writes, for every mask setting, what the evaluator prepares for image i: the ground
truth at the working size (`OUT/<setting>/truth/<id>.png`, the uint8 image the evaluator turns
into its tensor), the fixed hole mask i (`masks/<id>.png`, white = hole, the mask every method
gets) and the masked input (`input/<id>.png`: the tensor the evaluator hands a method, the image
with its holes zeroed on the −1…1 scale, quantised as the metrics quantise, so holes are
HOLE_VALUE = 127); then `manifest.csv` (id, setting, bucket, mask id, domain, hole ratio, sha256
of every file) and `protocol.json` (dataset, test split fingerprint, size, count, mask seed and
source, each setting's mask-set checksum, hole value, resize filter, quantisation, harness
version and commit, manifest.csv's sha256, and `sealed`: the sha256 of every other key's value).
Nothing in it depends on the time or the machine, so two exports of one protocol are
byte-identical. By default each image appears under every setting, so the other settings'
inputs show most of any hole; `disjoint` puts each image under one setting only.

The export is written into a sibling folder `.<OUT>.unfinished` holding UNFINISHED_MARK and
renamed to OUT at the end, so a killed or failed export leaves OUT as it was and a rerun clears
the unfinished folder. OUT must be new or empty; `force` replaces an earlier export (a folder
holding only protocol.json, manifest.csv and PNGs under <setting>/{truth,masks,input}/).

`read` verifies a test set (protocol.json's keys against `sealed`, manifest.csv's checksum,
every file's, no file added) before anything is scored against it (bench.predictions).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import config as config_module
from bench import metrics, runs
from bench.config import Config
from bench.data import mask_families, masks, splits
from bench.data.datasets import REAL_DATASETS, ImageDataset
from bench.data.images import to_tensor
from bench.records import reading
from bench.evaluate import png_bytes, test_mask_set
from bench.setup import open_data, say

FORMAT = 2
PROTOCOL_FILE = "protocol.json"
MANIFEST_FILE = "manifest.csv"
UNFINISHED_MARK = "UNFINISHED"  # in an export being written; removed once it is complete
VIEWS = ("truth", "masks", "input")  # the three folders of a setting
COLUMNS = ("id", "setting", "bucket", "mask_id", "domain", "hole_ratio",
           *(f"{view}_sha256" for view in VIEWS))
SEAL_KEY = "sealed"
PROTOCOL_KEYS = ("format", "dataset", "size", "count", "per_setting", "disjoint", "test_split", "settings",
                 "mask_seed", "mask_source", "mask_sets", "mask_families", "resize", "truth", "input", "hole_value",
                 "quantisation", "harness", "manifest_sha256", SEAL_KEY)
# The evaluator hands a method `images * (1 - holes)`: holes are 0 on the −1…1 scale, which the
# metrics' quantisation turns into this 8-bit level.
HOLE_VALUE = int(metrics.quantize(torch.zeros(1, 3, 1, 1)).flatten()[0])
RESIZE = "whole image to size×size, Pillow bicubic (bench.data.images.resize_square); sample: fixed crops"
QUANTISATION = ("metrics compare quantize(to_tensor(truth)) with the composite, both as (t+1)/2·255 "
                "truncated to uint8 with a slack of 1e-3 of a level, so the truth is the PNG's own values "
                "(bench.metrics.quantize); a supplied output is 8-bit already "
                "and enters the composite as it is")
INPUT = (f"what the evaluator hands every method: the truth with its holes zeroed on the −1…1 scale, "
         f"quantised as `quantisation` says, so hole pixels are {HOLE_VALUE} (hole_value) and known "
         "pixels the truth's; a method must not read the hole pixels")
AGAIN = "export the test set again (`inpaint-bench testset export`)"


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

    @property
    def per_setting(self) -> int:
        """Images under each setting (the count, or fewer in a disjoint test set)."""
        return int(self.protocol["per_setting"])

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
    if count is not None and count < 1:
        raise TestSetError(f"--count {count}: a test set needs at least 1 image (leave --count out for all)")
    data = {"dataset": dataset, "size": size, **({"root": str(data_root)} if data_root else {}),
            **({"cache_dir": str(cache_dir)} if cache_dir else {})}
    evaluation = {**({"masks": settings} if settings else {}), **({"count": count} if count else {})}
    return config_module.from_dict({"data": data, "eval": evaluation}, source="testset export")


def short_split(protocol: dict[str, Any]) -> str | None:
    """A line saying the test split is smaller than the dataset's published one, or None."""
    published = REAL_DATASETS[protocol["dataset"]].test_count if protocol["dataset"] in REAL_DATASETS else None
    found = protocol["test_split"]["count"]
    if published is None or found >= published:
        return None
    return (f"the {protocol['dataset']} test split here has {found} images, short of its published {published} "
            "(the dataset folder holds fewer images than published): results on it are labelled `short`, not `full`")


# --- the export ----------------------------------------------------------------------------------
def seal(protocol: dict[str, Any]) -> dict[str, str]:
    """The sha256 of each key's value (canonical JSON) but the seal's own."""
    return {key: sha256(json.dumps(value, sort_keys=True).encode())
            for key, value in protocol.items() if key != SEAL_KEY}


def unfinished_folder(out: Path) -> Path:
    """Where the export to `out` is written before it is renamed to `out`."""
    return out.parent / f".{out.name}.unfinished"


def is_export_file(relative: Path) -> bool:
    """Whether a path inside a folder is one `export` writes."""
    if relative.as_posix() in (PROTOCOL_FILE, MANIFEST_FILE):
        return True
    return len(relative.parts) >= 3 and relative.parts[1] in VIEWS and relative.suffix == ".png"


def check_target(out: Path, force: bool) -> None:
    """Refuse to export into a folder holding anything, unless `force` and it is an earlier
    export (only the files an export writes)."""
    if out.exists() and not out.is_dir():
        raise TestSetError(f"{out}: exists and is not a folder; give a new or empty folder")
    if not out.exists() or not any(out.iterdir()) or (out / UNFINISHED_MARK).is_file():
        return  # new, empty, or killed while being renamed into place: (re)written
    if not (out / PROTOCOL_FILE).is_file():
        raise TestSetError(f"{out}: not empty and not a test set (no {PROTOCOL_FILE}); give a new or empty folder")
    foreign = sorted(p for p in out.rglob("*") if p.is_file() and not is_export_file(p.relative_to(out)))
    if foreign:
        raise TestSetError(f"{out}: holds {len(foreign)} file(s) an export does not write (first: {foreign[0]}); "
                           "move them out or give a new folder")
    if not force:
        raise TestSetError(f"{out}: already holds a test set; give --force to replace it (the whole folder "
                           "is deleted) or a new folder")


def discard(folder: Path) -> None:
    """Delete an unfinished export left by a killed one (a folder holding UNFINISHED_MARK), saying
    so, or refuse naming the folder."""
    if not folder.exists():
        return
    if not (folder / UNFINISHED_MARK).is_file():
        raise TestSetError(f"{folder}: in the way of the export and not an unfinished one (no {UNFINISHED_MARK}); "
                           "move it away")
    say(f"{folder}: an unfinished export (one that was killed) deleted; exporting again", "testset")
    shutil.rmtree(folder)


def abandon(folder: Path) -> None:
    """Remove this export's own unfinished folder after a failure (a full disk, Ctrl-C)."""
    shutil.rmtree(folder, ignore_errors=True)


def settings_images(count: int, settings: list[str], disjoint: bool) -> dict[str, list[int]]:
    """The image indices under each setting: all `count`, or with `disjoint` every len(settings)-th
    (image i under setting i mod len(settings)), as many for each setting, none twice."""
    if not disjoint:
        return {name: list(range(count)) for name in settings}
    per = count // len(settings)
    if per == 0:
        raise TestSetError(f"--disjoint: {count} image(s) cannot go under {len(settings)} settings one each; "
                           f"give at least {len(settings)} images or fewer settings")
    return {name: list(range(k, per * len(settings), len(settings))) for k, name in enumerate(settings)}


def export(config: Config, out: Path, *, force: bool = False, disjoint: bool = False) -> Path:
    """Write the test set of `config`'s protocol (data.*, eval.masks, eval.count,
    eval.mask_seed) to `out` (new or empty, or an earlier export with `force`), each image under
    every setting or, with `disjoint`, under one; return its protocol.json."""
    out = Path(out)
    check_target(out, force)
    dataset = open_data(config, "test")
    count = len(dataset) if config.eval.count is None else config.eval.count
    if count > len(dataset):
        raise TestSetError(f"--count {count}: the {config.data.dataset} test split has {len(dataset)} images")
    images = settings_images(count, list(config.eval.masks), disjoint)
    work = unfinished_folder(out)
    discard(work)  # left by a killed export
    kept = f"the unfinished export was removed and {out} is as it was; run the export again"
    try:
        runs.write_text(work / UNFINISHED_MARK, "an export being written; deleted by the next export\n")
        write_test_set(config, dataset, count, images, disjoint, work, kept)
    except BaseException:
        abandon(work)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(work, out)
    (out / UNFINISHED_MARK).unlink()
    return out / PROTOCOL_FILE


def write_test_set(config: Config, dataset: ImageDataset, count: int, images: dict[str, list[int]],
                   disjoint: bool, out: Path, kept: str) -> None:
    """Every setting's files, manifest.csv and protocol.json into `out`."""
    def write(path: Path, data: bytes) -> None:
        with runs.atomic_file(path, "wb", kept) as handle:
            handle.write(data)

    entries, mask_sets = [], {}
    for name, indices in images.items():
        setting = masks.EvalSetting(name)
        mask_set = test_mask_set(config, setting, count)
        listing = []
        for i in indices:
            truth = np.asarray(dataset.load(i), dtype=np.uint8)
            mask_id, mask = mask_set[i]
            hole = np.asarray(mask) > 0.5
            given = to_tensor(truth)[None] * (1 - torch.from_numpy(hole.astype(np.float32)))  # the evaluator's input
            files = {"truth": png_bytes(truth), "masks": png_bytes(hole.astype(np.uint8) * 255),
                     "input": png_bytes(metrics.quantize(given)[0].numpy())}
            image_id = dataset.ids[i]
            for view, data in files.items():
                write(out / name / view / file_name(image_id), data)
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
    write(out / MANIFEST_FILE, manifest_bytes)
    families = {n: masks.family_source(n, config.data.mask_dir)
                for n in config.eval.masks if n in mask_families.FAMILIES}
    protocol = {
        "format": FORMAT, "dataset": config.data.dataset, "size": config.data.size, "count": count,
        "per_setting": len(next(iter(images.values()))), "disjoint": disjoint,
        "test_split": splits.fingerprint(dataset.ids), "settings": list(config.eval.masks),
        "mask_seed": config.eval.mask_seed, "mask_source": mask_source(config), "mask_sets": mask_sets,
        "mask_families": families,
        "resize": RESIZE, "truth": "uint8 RGB at size×size, the image the evaluator turns into its tensor",
        "input": INPUT, "hole_value": HOLE_VALUE,
        "quantisation": QUANTISATION, "harness": harness(), "manifest_sha256": sha256(manifest_bytes),
    }
    protocol[SEAL_KEY] = seal(protocol)
    write(out / PROTOCOL_FILE, (json.dumps(protocol, indent=2, sort_keys=True) + "\n").encode())


# --- reading -------------------------------------------------------------------------------------
def read_protocol(path: Path) -> dict[str, Any]:
    """protocol.json with every key present and matching its seal; TestSetError naming the key."""
    protocol = reading.json_object(path, AGAIN)
    if "format" in protocol and protocol["format"] != FORMAT:
        raise TestSetError(f"{path}: format {protocol['format']!r}, this harness reads {FORMAT}; {AGAIN}")
    missing = [k for k in PROTOCOL_KEYS if k not in protocol]
    if missing:
        raise TestSetError(f"{path}: missing key(s) {', '.join(missing)}; {AGAIN}")
    unknown = sorted(set(protocol) - set(PROTOCOL_KEYS))
    if unknown:
        raise TestSetError(f"{path}: key(s) {', '.join(unknown)} that no export writes (the test set was "
                           f"changed); {AGAIN}")
    recorded = protocol[SEAL_KEY]
    if not isinstance(recorded, dict):
        raise TestSetError(f"{path}: key {SEAL_KEY!r} is not an object of checksums; {AGAIN}")
    edited = [key for key, digest in seal(protocol).items() if recorded.get(key) != digest]
    if edited:
        raise TestSetError(f"{path}: key(s) {', '.join(edited)} differ from the values sealed at export "
                           f"(the test set was changed); {AGAIN}")
    return protocol


def read(root: Path) -> TestSet:
    """The test set at `root`, verified: protocol.json complete and sealed, manifest.csv and
    every file matching their recorded sha256, no other file; TestSetError naming the key or
    file otherwise."""
    root = Path(root)
    protocol_path = root / PROTOCOL_FILE
    protocol = read_protocol(protocol_path)
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
            except FileNotFoundError:
                raise TestSetError(f"{path}: missing, though {manifest_path} lists it (the test set was changed); "
                                   f"{AGAIN}") from None
            except OSError as error:
                raise TestSetError(f"{path}: cannot read ({error.strerror or error})") from None
            if digest != getattr(entry, f"{view}_sha256"):
                raise TestSetError(f"{path}: sha256 differs from {manifest_path} (the test set was changed)")
    listed = {protocol_path, manifest_path} | {e.path(root, view) for e in entries for view in VIEWS}
    added = sorted(p for p in root.rglob("*") if not p.is_dir() and p not in listed)
    if added:
        raise TestSetError(f"{added[0]}: not part of the test set ({manifest_path} does not list it"
                           f"{f'; {len(added)} such files' if len(added) > 1 else ''}); remove it or {AGAIN}")
    return TestSet(root, protocol, entries)
