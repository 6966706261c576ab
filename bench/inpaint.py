"""Inpaint photos with a trained (or official) checkpoint: `inpaint-bench inpaint …`.

The output is the photo at its own size and aspect ratio, with its own pixels outside the hole.
The model runs at its working size (the checkpoint's, or --size for an official file): the photo
is resized whole to size² (bicubic, as evaluation does, so the model sees it stretched to a
square), the hole is carried to that size so that every working pixel touched by the hole
(through the resize filter) counts as hole, the working-size composite is resized back to the
photo's size (bicubic), and only the photo's hole pixels are taken from it. Known pixels are
therefore the input's own, bit for bit in a PNG or WebP output (JPEG is lossy).

The mask: white (> 0.5) = hole. One of another size is resized (nearest) to the photo's size, a
non-binary one thresholded, an empty or full one used as it is, each with a warning. A folder of
images and a folder of masks are matched by file name (stem) and share one loaded model.

An image with an alpha channel keeps it as it was (alpha is a known value, the hole included) in
a PNG or WebP output; a JPEG has none, so it is dropped with a warning. Every input is opened and
the output path checked before the model loads; an output that would overwrite an input is
refused unless `force`.
"""

from __future__ import annotations

import io
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from bench import metrics, runs, setup
from bench.data.images import IMAGE_SUFFIXES, read_rgb, resize_square, to_tensor
from bench.method import Method, MethodSpec, ReleaseError
from bench.records import checkpoint as checkpoint_record

DEFAULT_SIZE = 256  # working size of an official checkpoint when --size is not given
FORMATS = {".png": ("PNG", {}), ".webp": ("WEBP", {"lossless": True, "exact": True}),  # exact: RGB under alpha 0
           ".jpg": ("JPEG", {"quality": 95}), ".jpeg": ("JPEG", {"quality": 95})}


class InpaintError(ValueError):
    """An input of `inpaint` that cannot be used."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def load_method(name: str, checkpoint: Path, size: int) -> tuple[Method, int]:
    """A method and its working size: from one of our run checkpoints, or else `name` at `size`
    with released weights (a file, or a release folder) through `load_official`."""
    path = Path(checkpoint)
    if not path.exists():
        raise InpaintError(f"{checkpoint}: checkpoint not found")
    record = None if path.is_dir() else checkpoint_record.load_if_run_checkpoint(path)
    if record is not None:
        if record.method_name != name:
            raise InpaintError(f"{checkpoint}: holds method {record.method_name!r}, not {name!r}")
        return setup.method_from_checkpoint(record, torch.device("cpu")), record.spec.image_size
    try:
        return setup.method_from_official(name, MethodSpec(image_size=size), path, torch.device("cpu")), size
    except ReleaseError:  # the method's release reader knew what to say
        raise
    except Exception:
        if path.is_file():  # a file that is no torch file at all: name it and what was expected
            runs.read_torch(path, f"a run checkpoint or released {name} weights")
        raise


def read_mask(path: Path, width: int, height: int) -> np.ndarray:
    """The hole (bool H×W, white = hole) of a mask file, at the image's size `width`×`height`."""
    try:
        with Image.open(path) as image:
            grey = image.convert("L")
    except OSError as error:
        raise InpaintError(f"{path}: cannot read mask ({error})") from None
    if grey.size != (width, height):
        w, h = grey.size
        stretched = "" if math.isclose(w / h, width / height, rel_tol=0.01) else \
            f"; its aspect ratio differs ({w / h:.3g} against {width / height:.3g}), so it is stretched"
        warn(f"{path}: mask is {w}×{h}, the image {width}×{height}: resized (nearest) to the image's size{stretched}")
        grey = grey.resize((width, height), Image.Resampling.NEAREST)
    values = np.asarray(grey)
    if not np.isin(values, (0, 255)).all():
        warn(f"{path}: mask is not binary, thresholded at 0.5 (white = hole)")
    hole = values > 127
    if not hole.any():
        warn(f"{path}: mask has no hole (all black): the output is the image unchanged")
    elif hole.all():
        warn(f"{path}: mask is all hole (all white): nothing of the image is kept")
    return hole


def working_hole(hole: np.ndarray, size: int) -> np.ndarray:
    """The hole at the working size: every size² pixel whose bicubic resize reads a hole pixel.

    A working pixel touched by the hole (box) is a hole, grown by the bicubic filter's reach
    (2 source pixels, in working pixels) so no known working pixel carries hole content.
    """
    height, width = hole.shape
    if (width, height) == (size, size):
        return hole
    touched = Image.fromarray(hole.astype(np.uint8) * 255).resize((size, size), Image.Resampling.BOX)
    reach = math.ceil(2 * max(size / width, size / height, 1.0)) + 1
    grown = touched.point(lambda v: 255 if v else 0).filter(ImageFilter.MaxFilter(2 * reach + 1))
    return np.asarray(grown) > 0


def inpaint_image(method: Method, size: int, image: Image.Image, hole: np.ndarray) -> np.ndarray:
    """The photo (uint8 H×W×3) with its hole filled by `method` run at `size`²."""
    pixels = np.asarray(image)
    if not hole.any():
        return pixels.copy()
    truth = to_tensor(resize_square(image, size)).unsqueeze(0)
    mask = torch.from_numpy(working_hole(hole, size).astype(np.float32))[None, None]
    with torch.inference_mode():
        prediction = method.inpaint(truth * (1 - mask), mask)
    # quantised as the evaluator quantises (truncation), so that a working-size output scored by
    # `evaluate --predictions` is the evaluator's own composite (bench.predictions)
    filled = Image.fromarray(metrics.quantize(metrics.composite(truth, mask, prediction))[0].numpy())
    if filled.size != image.size:
        filled = filled.resize(image.size, Image.Resampling.BICUBIC)
    return np.where(hole[..., None], np.asarray(filled), pixels)


def output_format(path: Path) -> tuple[str, dict]:
    """Pillow's format name and save options for an output path, chosen by its extension."""
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise InpaintError(f"--out {path}: cannot write {Path(path).suffix or 'a file without extension'}; "
                           "name it .png or .webp (lossless) or .jpg/.jpeg")
    return found


def read_alpha(path: Path) -> np.ndarray | None:
    """The image's alpha channel (uint8 H×W), or None when it has none."""
    with Image.open(path) as image:
        if "A" not in image.getbands() and "transparency" not in image.info:
            return None
        return np.asarray(image.convert("RGBA").getchannel("A"))


def with_alpha(pixels: np.ndarray, alpha: np.ndarray | None, image: Path, out: Path) -> np.ndarray:
    """The output's pixels with the input's alpha channel put back where the format keeps one."""
    if alpha is None:
        return pixels
    if output_format(out)[0] == "JPEG":
        warn(f"{image} has an alpha channel, which JPEG cannot hold: {out} drops it; "
             "name the output .png or .webp to keep it")
        return pixels
    print(f"note: {image} has an alpha channel: {out} keeps it as it was", file=sys.stderr)
    return np.dstack([pixels, alpha])


def write_image(path: Path, pixels: np.ndarray) -> None:
    name, options = output_format(path)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=name, **options)
    runs.write_bytes(Path(path), buffer.getvalue())


def pairs(image_dir: Path, mask_dir: Path) -> list[tuple[Path, Path]]:
    """Each image of `image_dir` with the mask of `mask_dir` of the same name (stem)."""
    def listed(folder: Path) -> dict[str, Path]:
        return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}

    images, masks = listed(image_dir), listed(mask_dir)
    if not images:
        raise InpaintError(f"--image {image_dir}: no images in the folder")
    unmatched = sorted(set(images) - set(masks))
    if unmatched:
        raise InpaintError(f"--mask {mask_dir}: no mask named like {len(unmatched)} image(s) of {image_dir} "
                           f"(first: {', '.join(images[s].name for s in unmatched[:3])})")
    for stem in sorted(set(masks) - set(images)):
        warn(f"{masks[stem]}: no image of that name in {image_dir}; skipped")
    return [(images[s], masks[s]) for s in images]


def targets(image: Path, mask: Path, out: Path, force: bool = False) -> list[tuple[Path, Path, Path]]:
    """(image, mask, output) triples: one file, or a folder of images matched by name to masks;
    each input opened and each output checked, so that nothing is loaded for an unusable one."""
    found = _listed_targets(Path(image), Path(mask), Path(out))
    inputs = {path.resolve(): (flag, path)
              for triple in found for flag, path in zip(("--image", "--mask"), triple)}
    for image_path, mask_path, out_path in found:
        for flag, path in (("--image", image_path), ("--mask", mask_path)):
            _check_readable(flag, path)
        _check_writable(out_path)
        if out_path.resolve() in inputs and not force:
            flag, path = inputs[out_path.resolve()]
            raise InpaintError(f"--out {out_path} is the {flag} file {path}: it would be overwritten; "
                               "name another output, or pass --force to replace it")
    return found


def _check_readable(flag: str, path: Path) -> None:
    try:
        with Image.open(path):
            pass
    except (OSError, ValueError) as error:
        raise InpaintError(f"{flag} {path}: cannot decode image ({error})") from None


def _check_writable(out: Path) -> None:
    """The nearest existing folder above `out` is a folder the process may write into."""
    folder = out.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise InpaintError(f"--out {out}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InpaintError(f"--out {out}: cannot write into {folder} (permission denied)")


def _listed_targets(image: Path, mask: Path, out: Path) -> list[tuple[Path, Path, Path]]:
    if not image.exists():
        raise InpaintError(f"--image {image}: no such file or folder")
    if not mask.exists():
        raise InpaintError(f"--mask {mask}: no such file or folder")
    if image.is_dir() != mask.is_dir():
        raise InpaintError(f"--image {image} and --mask {mask}: give two files or two folders")
    if image.is_dir():
        if out.exists() and not out.is_dir():
            raise InpaintError(f"--out {out}: must be a folder when --image is a folder")
        return [(i, m, out / f"{i.stem}.png") for i, m in pairs(image, mask)]
    if out.is_dir():
        raise InpaintError(f"--out {out} is a directory; name the output file, e.g. {out / (image.stem + '.png')}")
    output_format(out)
    return [(image, mask, out)]


def inpaint_files(name: str, checkpoint: Path, image: Path, mask: Path, out: Path,
                  size: int | None = None, force: bool = False) -> list[Path]:
    """Inpaint one image, or each image of a folder, loading the model once (after every input
    and output was checked); the outputs."""
    todo = targets(image, mask, out, force)
    method, working = load_method(name, checkpoint, size or DEFAULT_SIZE)
    if size is not None and size != working:
        raise InpaintError(f"--size {size}: {checkpoint} is a run checkpoint of {working}×{working}, "
                           "the only size it runs at; leave --size out")
    method.eval()
    for image_path, mask_path, out_path in todo:
        photo = read_rgb(image_path)
        hole = read_mask(mask_path, *photo.size)
        if photo.size != (working, working) and hole.any():
            print(f"note: {image_path} is {photo.size[0]}×{photo.size[1]}; the model runs at {working}×{working}, "
                  "its prediction is resized back to fill the hole", file=sys.stderr)
        filled = inpaint_image(method, working, photo, hole)
        write_image(out_path, with_alpha(filled, read_alpha(image_path), image_path, out_path))
    return [t[2] for t in todo]
