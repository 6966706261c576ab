"""Deterministic train/test splits of the real datasets, written once to list files.

Like PEN-Net's flists: `<cache>/splits/<dataset>/train.txt` and `test.txt` hold one image path
(relative to the data root) per line, and `split.json` records the seed, the counts and the
sha256 of each list. A split is made once and reused ever after; a list whose checksum no longer
matches is an error, never silently remade. A run records `fingerprint`s of the lists it used
in its manifest; training resumes and evaluation runs only on the same lists.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.records import reading

SPLIT_SEED = 2020  # PEN-Net's seed


class SplitError(ValueError):
    """A split list that is missing, edited or inconsistent."""


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_split(files: list[str], test_count: int, stratify: Callable[[str], str] | None,
               seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """Hold out `test_count` files, seeded; stratified (equal share per class) when asked."""
    files = sorted(files)
    rng = np.random.default_rng(seed)
    if stratify is None:
        order = rng.permutation(len(files))
        test = {files[i] for i in order[:test_count]}
    else:
        groups: dict[str, list[str]] = defaultdict(list)
        for f in files:
            groups[stratify(f)].append(f)
        fraction = test_count / len(files)
        test = set()
        for key in sorted(groups):
            members = groups[key]
            order = rng.permutation(len(members))
            test.update(members[i] for i in order[: round(len(members) * fraction)])
    return [f for f in files if f not in test], [f for f in files if f in test]


def split_dir(cache_dir: Path, dataset: str) -> Path:
    return Path(cache_dir) / "splits" / dataset


def save_split(folder: Path, train: list[str], test: list[str], info: dict) -> None:
    lists = {"train": "".join(f + "\n" for f in train), "test": "".join(f + "\n" for f in test)}
    for split, text in lists.items():
        write_atomic(folder / f"{split}.txt", text)
    record = {**info, "counts": {k: len(v.splitlines()) for k, v in lists.items()},
              "sha256": {k: sha256(v) for k, v in lists.items()}}
    write_atomic(folder / "split.json", json.dumps(record, indent=2) + "\n")


def load_split(folder: Path, split: str) -> list[str] | None:
    """The saved list of `split`, checked against its checksum; None when none was made yet."""
    record_path = folder / "split.json"
    if not record_path.is_file():
        return None
    fix = f"delete {folder} to re-split (a run bound to the old split will then refuse the new one)"
    record = reading.json_object(record_path, fix)
    expected = record.get("sha256")
    if not isinstance(expected, dict) or not isinstance(expected.get(split), str):
        raise reading.fail(record_path, f"sha256.{split}: missing or not a string", fix)
    path = folder / f"{split}.txt"
    if not path.is_file():
        raise SplitError(f"{path}: missing, but {record_path} exists; delete {folder} to re-split")
    text = reading.text(path, fix)
    if sha256(text) != expected[split]:
        raise SplitError(f"{path}: checksum differs from {record_path}; the list was edited — "
                         f"restore it or delete {folder} to re-split")
    return text.splitlines()


def differences(folder: Path, present: list[str]) -> tuple[list[str], list[str]]:
    """Files present but in neither saved list, and listed files no longer present (both sorted)."""
    listed: set[str] = set()
    for split in ("train", "test"):
        listed.update(load_split(folder, split) or [])
    return sorted(set(present) - listed), sorted(listed - set(present))


# --- binding a run to its split ----------------------------------------------------------------
def fingerprint(ids: list[str]) -> dict[str, object]:
    """What a run records of a split it used: the number of images and the sha256 of their ids."""
    return {"count": len(ids), "sha256": sha256("".join(i + "\n" for i in ids))}


def mismatch(manifest: Path, split: str, recorded: dict, current: dict) -> str:
    """The one-line refusal for a split that is not the one recorded in a run's manifest."""
    return (f"{manifest}: the {split} split differs from the one this run was trained with "
            f"({current['count']} images, sha256 {str(current['sha256'])[:12]}… now; "
            f"{recorded['count']}, {str(recorded['sha256'])[:12]}… recorded): the data folder or "
            "its split lists changed, and test images could be training images; restore the "
            "split lists the run used (data.cache_dir) or train a new run")
