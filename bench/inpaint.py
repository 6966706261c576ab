"""Inpaint one image with a trained (or official) checkpoint: `inpaint-bench inpaint …`.

The image is resized whole to the method's working size (the evaluation protocol); a mask of
another size is resized with nearest neighbour and a non-binary mask is thresholded at 0.5, each
with a warning. White (> 0.5) mask pixels are holes. The output is the composite, as a PNG.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench import methods, metrics, runs
from bench.data.images import read_rgb, resize_square, to_tensor
from bench.method import Method, MethodSpec


class InpaintError(ValueError):
    """An input of `inpaint` that cannot be used."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def load_method(name: str, checkpoint: Path, size: int) -> tuple[Method, int]:
    """A method and its working size, from one of our run checkpoints, or `name` at `size`
    with an official checkpoint file."""
    from bench.evaluate import method_from_checkpoint

    if not Path(checkpoint).is_file():
        raise InpaintError(f"{checkpoint}: checkpoint not found")
    state = runs.read_torch(checkpoint, f"a run checkpoint or official {name} weights")
    if isinstance(state, dict) and "method_name" in state:
        if state["method_name"] != name:
            raise InpaintError(f"{checkpoint}: holds method {state['method_name']!r}, not {name!r}")
        return method_from_checkpoint(Path(checkpoint), torch.device("cpu")), int(state["spec"]["image_size"])
    method = methods.create(name, MethodSpec(image_size=size))
    if not hasattr(method, "load_official"):
        raise InpaintError(f"{checkpoint}: not a run checkpoint, and method {name!r} cannot load official weights")
    method.load_official(Path(checkpoint))
    return method, size


def read_mask(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            grey = image.convert("L")
    except OSError as error:
        raise InpaintError(f"{path}: cannot read mask ({error})") from None
    if grey.size != (size, size):
        warn(f"{path}: mask is {grey.size[0]}×{grey.size[1]}, resized (nearest) to {size}×{size}")
        grey = grey.resize((size, size), Image.Resampling.NEAREST)
    values = np.asarray(grey, dtype=np.float32) / 255.0
    if not np.isin(values, (0.0, 1.0)).all():
        warn(f"{path}: mask is not binary, thresholded at 0.5 (white = hole)")
    return (values > 0.5).astype(np.float32)


def inpaint_file(name: str, checkpoint: Path, image_path: Path, mask_path: Path, out_path: Path,
                 size: int = 256) -> Path:
    method, size = load_method(name, checkpoint, size)
    method.eval()
    image = read_rgb(image_path)
    if image.size != (size, size):
        warn(f"{image_path}: image is {image.size[0]}×{image.size[1]}, resized to {size}×{size}")
    truth = to_tensor(resize_square(image, size)).unsqueeze(0)
    mask = torch.from_numpy(read_mask(mask_path, size))[None, None]
    with torch.inference_mode():
        prediction = method.inpaint(truth * (1 - mask), mask)
    result = metrics.quantize(metrics.composite(truth, mask, prediction))[0].numpy()
    buffer = io.BytesIO()
    Image.fromarray(result).save(buffer, format="PNG")
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    runs.write_bytes(Path(out_path), buffer.getvalue())
    return Path(out_path)
