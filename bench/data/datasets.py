"""The dataset registry: dtd, facade, celeba-hq, places2 and folder (read from a folder) and sample.

Each paper dataset reads the layout its publisher distributes, from a root the user names, and
is split as the paper's Table 1; `folder` is any folder of the user's own images, searched
recursively, one image in ten held out for testing (at least one). Every split is seeded and
written once (splits.py); hidden files and folders (a name starting with ".") are skipped. Every item is a
dict {"image": 3×size×size float in [-1, 1], "id": str, "domain": str}. `ds[i]` is the test
protocol's view (whole image resized to size², as PEN-Net); `ds.augmented(i, rng)` is the
training view (a random horizontal flip, as PEN-Net; the sample set also takes a random crop).
`data.extra_train_root` adds a folder of more training images to the sample set's train split
(`ExtraTrainImages`), seen at the sample set's scale; it is never tested on.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from bench.data import sample, splits
from bench.data.augment import random_crop
from bench.data.images import IMAGE_SUFFIXES, ImageReadError, read_rgb, resize_square, to_tensor

# The checkout's results/cache wherever a command is typed, so every command finds the same lists.
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "results" / "cache"


class DatasetError(ValueError):
    """A dataset that is unknown, missing, empty or laid out unexpectedly."""


# `folder`, which has no paper split: one image in TEST_SHARE is held out for testing, at least one
# (so 2–19 images give one test image, 20–29 two, …). Any dataset needs MIN_IMAGES to be split.
TEST_SHARE = 10
MIN_IMAGES = 2


@dataclass(frozen=True)
class RealDataset:
    """Where one dataset's images live under its root, and how it is split: as the paper's
    Table 1 (`train_count`, `test_count`), or, for a dataset outside the paper (both None), one
    image in TEST_SHARE held out."""

    name: str
    train_count: int | None
    test_count: int | None
    layout: str  # shown in errors: what the folder should hold
    folders: tuple[str, ...]  # sub-folders (relative to root) to search; "" = the root itself
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES
    stratify: Callable[[str], str] | None = None
    split_per_root: bool = False  # True: each root gets its own saved split (any folder); else one per dataset

    @property
    def in_paper(self) -> bool:
        """Whether the paper's Table 1 has this dataset (and its tables a column for it)."""
        return self.train_count is not None

    def list_files(self, root: Path) -> list[str]:
        """Image paths relative to `root` (suffix in any case, hidden files and folders skipped),
        from every layout folder that exists."""
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"{root}: dataset folder for {self.name!r} does not exist; expected {self.layout}")
        found: list[str] = []
        for folder in self.folders:
            base = root / folder
            if base.is_dir():
                for path in base.rglob("*"):
                    relative = path.relative_to(root)
                    if (path.suffix.lower() in self.suffixes and not any(part.startswith(".") for part in relative.parts)
                            and path.is_file()):
                        found.append(relative.as_posix())
        if not found:
            raise DatasetError(f"{root}: no {self.name} images found; expected {self.layout}")
        return found

    def test_size(self, found: int) -> int:
        """Images to hold out for testing: the paper's count, scaled to its proportion when fewer
        images are present; outside the paper, one in TEST_SHARE; at least one either way."""
        if not self.in_paper:
            return max(1, found // TEST_SHARE)
        total = self.train_count + self.test_count
        return self.test_count if found >= total else max(1, round(found * self.test_count / total))

    def split_folder(self, cache_dir: Path, root: Path) -> Path:
        """Where this dataset's split lists are saved: `splits/<name>`, or with `split_per_root`
        `splits/<name>-<the first 12 hex digits of the sha256 of the resolved root's path>`."""
        if not self.split_per_root:
            return splits.split_dir(cache_dir, self.name)
        digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:12]
        return splits.split_dir(cache_dir, f"{self.name}-{digest}")


REAL_DATASETS = {
    d.name: d
    for d in (
        RealDataset("dtd", 4512, 1128, "dtd/images/<category>/*.jpg (dtd-r1.0.1.tar.gz unpacked)",
                    ("dtd/images", "images"), (".jpg",), stratify=lambda f: Path(f).parent.name),
        RealDataset("facade", 506, 100,
                    "base/*.jpg and extended/*.jpg (CMP_facade_DB_base.zip and _extended.zip unpacked)",
                    ("base", "extended", "CMP_facade_DB_base/base", "CMP_facade_DB_extended/extended"),
                    (".jpg",)),
        RealDataset("celeba-hq", 28000, 2000,
                    "CelebA-HQ-img/*.jpg (CelebAMask-HQ) or celeba_hq/*.{jpg,png} or data1024x1024/*.png",
                    ("CelebA-HQ-img", "CelebAMask-HQ/CelebA-HQ-img", "celeba_hq", "data1024x1024")),
        RealDataset("places2", 1_829_960, 10_000,
                    "data_256/<letter>/<category>/*.jpg and val_256/*.jpg (Places365-Standard, train and val pooled)",
                    ("data_256", "val_256", "data_large", "val_large"), (".jpg",)),
        RealDataset("folder", None, None,
                    f"image files ({', '.join(IMAGE_SUFFIXES)}, any case) anywhere under it, hidden ones skipped",
                    ("",), split_per_root=True),
    )
}
NAMES = (*REAL_DATASETS, "sample")
SPLITS = ("train", "test")


class ImageDataset(Dataset, abc.ABC):
    """A list of images of one dataset split at one working size."""

    def __init__(self, name: str, split: str, size: int, ids: list[str], domains: list[str]):
        self.name, self.split, self.size = name, split, size
        self.ids, self.domains = ids, domains

    def __len__(self) -> int:
        return len(self.ids)

    @abc.abstractmethod
    def load(self, i: int) -> Image.Image:
        """Item i as a size × size RGB image (the deterministic, test-protocol view)."""

    def load_at(self, i: int, side: int) -> Image.Image:
        """Item i as a whole image resized to side × side (the resize-then-crop training view)."""
        return resize_square(self.load(i), side)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"image": to_tensor(self.load(i)), "id": self.ids[i], "domain": self.domains[i]}

    def augmented(self, i: int, rng: np.random.Generator, zoom: int = 1) -> dict[str, Any]:
        """Item i as training sees it: at `zoom` > 1 a random size² crop of the whole image
        resized to size·zoom (data.train_zoom), then a random horizontal flip."""
        image = self.load(i) if zoom == 1 else random_crop(self.load_at(i, self.size * zoom), self.size, rng)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return {"image": to_tensor(image), "id": self.ids[i], "domain": self.domains[i]}


class FolderDataset(ImageDataset):
    """A real dataset: files under a root, whole images resized to size² (PEN-Net)."""

    def __init__(self, name: str, split: str, size: int, root: Path, files: list[str]):
        super().__init__(name, split, size, [Path(f).with_suffix("").as_posix() for f in files], [name] * len(files))
        self.root, self.files = Path(root), files

    def load(self, i: int) -> Image.Image:
        return self.load_at(i, self.size)

    def load_at(self, i: int, side: int) -> Image.Image:
        return resize_square(read_rgb(self.root / self.files[i]), side)


class SampleDataset(ImageDataset):
    """The embedded sample set: random crops of train halves, fixed crops of test halves."""

    def __init__(self, split: str, size: int):
        self.regions: list[sample.Region] = []
        self.offsets: list[tuple[int, int]] = []
        ids, domains = [], []
        for domain, (_, sources) in sample.DOMAINS.items():
            for source in sources:
                region = sample.halves(source, domain, size)[0 if split == "train" else 1]
                offsets = ([None] if split == "train" else sample.test_crop_offsets(region, size))
                for k, offset in enumerate(offsets):
                    self.regions.append(region)
                    self.offsets.append(offset)
                    suffix = "" if offset is None else f"-{k}"
                    ids.append(f"{domain}-{sample.source_name(source)}{suffix}")
                    domains.append(domain)
        super().__init__("sample", split, size, ids, domains)

    def load(self, i: int) -> Image.Image:
        region, offset = self.regions[i], self.offsets[i]
        if offset is None:  # a train region's deterministic view: its centre crop
            _, _, width, height = region.box
            offset = ((width - self.size) // 2, (height - self.size) // 2)
        return sample.crop(region, self.size, *offset)

    def augmented(self, i: int, rng: np.random.Generator, zoom: int = 1) -> dict[str, Any]:
        if self.split != "train":
            return super().augmented(i, rng, zoom)
        # at zoom > 1, the same train half of the source scaled for working size size·zoom
        region = self.regions[i] if zoom == 1 else sample.halves(self.regions[i].source, self.domains[i],
                                                                 self.size * zoom)[0]
        image = sample.crop(region, self.size, *sample.random_crop_offset(region, self.size, rng), zoom)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return {"image": to_tensor(image), "id": self.ids[i], "domain": self.domains[i]}


class ExtraTrainImages(ImageDataset):
    """More training images for the sample set (data.extra_train_root): every image under a
    folder, listed as the `folder` dataset lists it, seen as the sample set sees its sources:
    scaled so that its short side is twice the working size (×zoom), then a random size² crop
    (`load`: the centre crop); ids are `extra/<path without suffix>`, domain `extra`."""

    def __init__(self, size: int, root: Path):
        self.root = Path(root)
        self.files = sorted(REAL_DATASETS["folder"].list_files(self.root))
        super().__init__("extra", "train", size, [f"extra/{Path(f).with_suffix('').as_posix()}" for f in self.files],
                         ["extra"] * len(self.files))

    def scaled(self, i: int, side: int) -> Image.Image:
        return _scaled_short_side(self.root / self.files[i], 2 * side)

    def load(self, i: int) -> Image.Image:
        image = self.scaled(i, self.size)
        left, top = (image.width - self.size) // 2, (image.height - self.size) // 2
        return image.crop((left, top, left + self.size, top + self.size))

    def augmented(self, i: int, rng: np.random.Generator, zoom: int = 1) -> dict[str, Any]:
        image = random_crop(self.scaled(i, self.size * zoom), self.size, rng)
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return {"image": to_tensor(image), "id": self.ids[i], "domain": self.domains[i]}


@lru_cache(maxsize=None)
def _scaled_short_side(path: Path, short_side: int) -> Image.Image:
    """The image at `path` (RGB) scaled so that its short side is `short_side` (cached: a training
    run sees each extra image at a few zooms only)."""
    image = read_rgb(path)
    scale = short_side / min(image.size)
    return image.resize(tuple(max(short_side, round(d * scale)) for d in image.size), Image.Resampling.BICUBIC)


class TrainWithExtra(ImageDataset):
    """The sample set's train split followed by the extra training images."""

    def __init__(self, own: ImageDataset, extra: ExtraTrainImages):
        self.parts = (own, extra)
        super().__init__(own.name, "train", own.size, [*own.ids, *extra.ids], [*own.domains, *extra.domains])

    def _part(self, i: int) -> tuple[ImageDataset, int]:
        own = self.parts[0]
        return (own, i) if i < len(own) else (self.parts[1], i - len(own))

    def load(self, i: int) -> Image.Image:
        part, j = self._part(i)
        return part.load(j)

    def augmented(self, i: int, rng: np.random.Generator, zoom: int = 1) -> dict[str, Any]:
        part, j = self._part(i)
        return part.augmented(j, rng, zoom)


def check_name(name: str) -> None:
    if name not in NAMES:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")


def check_splittable(name: str, root: Path, found: list[str]) -> None:
    """At least MIN_IMAGES images, and no two whose paths without suffix (their image ids) are
    the same; DatasetError naming the folder or both files otherwise."""
    if len(found) < MIN_IMAGES:
        raise DatasetError(f"{root}: {len(found)} image found ({found[0]}); dataset {name!r} needs at least "
                           f"{MIN_IMAGES}, one to train on and one to test on")
    seen: dict[str, str] = {}
    for f in sorted(found):
        image_id = Path(f).with_suffix("").as_posix()
        if image_id in seen:
            raise DatasetError(f"{root}: {seen[image_id]} and {f} would share the image id {image_id!r}; "
                               "rename or remove one")
        seen[image_id] = f


def split_files(name: str, split: str, root: Path, cache_dir: Path) -> list[str]:
    """The files of one split, from the saved lists; the split is made the first time."""
    spec = REAL_DATASETS[name]
    if not Path(root).is_dir():
        raise DatasetError(f"{root}: dataset folder for {name!r} does not exist; expected {spec.layout}")
    folder = spec.split_folder(cache_dir, root)
    files = splits.load_split(folder, split)
    if files is None:
        found = spec.list_files(root)
        check_splittable(name, root, found)
        train, test = splits.make_split(found, spec.test_size(len(found)), spec.stratify)
        splits.save_split(folder, train, test, {"dataset": name, "root": str(Path(root).resolve()),
                                                 "seed": splits.SPLIT_SEED})
        files = train if split == "train" else test
    return files


def require_root(name: str, root: Path | None) -> None:
    """A real dataset's root must be given; the error says how, for every command."""
    if root is None:
        raise DatasetError(f"dataset {name!r} needs a data root: --data-root DIR (or data.root=DIR); "
                           f"expected {REAL_DATASETS[name].layout}")


def open_dataset(name: str, split: str, *, size: int, root: Path | None = None,
                 cache_dir: Path | None = None, extra_train_root: Path | None = None) -> ImageDataset:
    """One split of a dataset at working size `size`; the sample set's train split with the images
    under `extra_train_root` added, when given."""
    check_name(name)
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if extra_train_root is not None and name != "sample":
        raise DatasetError(f"data.extra_train_root adds training images to the sample set only, not to {name!r}; "
                           "to train on a folder of your own images use data.dataset: folder")
    if name not in REAL_DATASETS:
        if split == "train" and extra_train_root is not None:
            return TrainWithExtra(SampleDataset(split, size), ExtraTrainImages(size, Path(extra_train_root)))
        return SampleDataset(split, size)
    require_root(name, root)
    files = split_files(name, split, Path(root), Path(cache_dir or DEFAULT_CACHE))
    return FolderDataset(name, split, size, Path(root), files)


def mean_pixel(dataset: ImageDataset, limit: int = 2000) -> tuple[float, float, float]:
    """The mean colour in [-1, 1] over up to `limit` evenly spaced images of `dataset`."""
    count = min(limit, len(dataset))
    indices = np.linspace(0, len(dataset) - 1, count).round().astype(int)
    total = torch.zeros(3, dtype=torch.float64)
    for i in indices:
        total += dataset[int(i)]["image"].double().mean(dim=(1, 2))
    return tuple(float(v) for v in total / count)


def check_dataset(name: str, root: Path | None, cache_dir: Path | None = None,
                  verify: bool = False) -> list[dict[str, Any]]:
    """Found versus expected counts per split, the listed files that are missing and, with
    `verify`, those that do not decode (each file read in full, with a progress bar). Expected
    is the paper's Table 1 count for a paper dataset (`basis` says which), else the saved list's."""
    check_name(name)
    if name not in REAL_DATASETS:
        return [{"dataset": name, "split": s, "found": len(open_dataset(name, s, size=64)),
                 "expected": len(open_dataset(name, s, size=64)), "basis": "embedded set",
                 "missing": [], "corrupt": []} for s in SPLITS]
    require_root(name, root)
    spec = REAL_DATASETS[name]
    report = []
    for split in SPLITS:
        files = split_files(name, split, Path(root), Path(cache_dir or DEFAULT_CACHE))
        missing = [f for f in files if not (Path(root) / f).is_file()]
        corrupt = []
        if verify:
            for f in tqdm(sorted(set(files) - set(missing)), desc=f"decoding {name} {split}", unit="img"):
                try:
                    read_rgb(Path(root) / f)
                except ImageReadError as error:
                    corrupt.append(str(error))
        expected = {"train": spec.train_count, "test": spec.test_count}[split] if spec.in_paper else len(files)
        report.append({"dataset": name, "split": split, "found": len(files) - len(missing), "expected": expected,
                       "basis": "paper's Table 1" if spec.in_paper else "saved list", "missing": missing,
                       "corrupt": corrupt})
    return report


def split_drift(name: str, root: Path, cache_dir: Path | None = None) -> str | None:
    """A line saying how the folder differs from its saved split lists, and how to re-split;
    None when the lists name exactly the folder's images."""
    spec = REAL_DATASETS[name]
    folder = spec.split_folder(Path(cache_dir or DEFAULT_CACHE), Path(root))
    present = spec.list_files(Path(root))
    unlisted, gone = splits.differences(folder, present)
    if not unlisted and not gone:
        return None
    found = [f"{len(unlisted):,d} image(s) of the folder are in no list (first: {unlisted[0]})"] if unlisted else []
    found += [f"{len(gone):,d} listed image(s) are no longer in it (first: {gone[0]})"] if gone else []
    return (f"{root}: the folder differs from the split saved in {folder}: {'; '.join(found)}. The saved split "
            f"is kept; to re-split, delete {folder} and run `inpaint-bench data check {name} --data-root {root}`")
