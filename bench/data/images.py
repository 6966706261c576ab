"""Reading any image Pillow can decode into an RGB array, the paper's resize protocol, and
PEN-Net's colour jitter.

Every image, whatever its mode (L, RGB, RGBA, P, 16-bit I;16) or format, becomes uint8 RGB.
Real datasets follow PEN-Net's protocol (the code SRPNet was built on): the whole image is
resized, not cropped, to size × size with Pillow's bicubic filter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".gif")


class ImageReadError(ValueError):
    """An image file that cannot be decoded: one line naming it.

    Raised in a DataLoader worker, torch re-raises it in the main process as
    ImageReadError("Caught ImageReadError in DataLoader worker process N.\nOriginal Traceback …
    ImageReadError: LINE"); only LINE, the one naming the file, is kept, so that a command still
    says it in one line (`--debug` shows where it was raised)."""

    def __init__(self, message: str) -> None:
        if message.startswith(f"Caught {ImageReadError.__name__} "):
            message = message.rstrip().rsplit(f"{ImageReadError.__name__}: ", 1)[-1]
        super().__init__(message)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB (16-bit grey is scaled, alpha is dropped)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def read_rgb(path: Path) -> Image.Image:
    """Open `path` as an RGB image; an undecodable file raises an error naming it."""
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageReadError(f"{path}: cannot decode image ({error})") from None


def resize_square(image: Image.Image, size: int) -> Image.Image:
    """PEN-Net's protocol: the whole image resized (not cropped) to size × size, bicubic."""
    if image.size == (size, size):
        return image
    # departure: images are resized with an explicit bicubic filter; PEN-Net's loader calls img.resize() with Pillow's default, nearest neighbour in the Pillow of its release (code of December 2019) and bicubic since Pillow 7.0 (January 2020).
    return image.resize((size, size), Image.Resampling.BICUBIC)


def to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 → float 3×H×W in [-1, 1], the seam's image convention."""
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def to_image(tensor: torch.Tensor) -> Image.Image:
    """float 3×H×W in [-1, 1] → uint8 RGB image; exactly undoes `to_tensor`."""
    array = tensor.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).numpy())


def color_jitter(image: Image.Image, strength: float, rng: np.random.Generator) -> Image.Image:
    """torchvision's ColorJitter(s, s, s, s) on an RGB image, its randomness drawn from `rng`.

    Brightness, contrast and saturation factors are uniform in [max(0, 1 − s), 1 + s] and the
    hue shift uniform in [−s, s] (a fraction of the hue circle); the four apply in a random
    order, each as torchvision's PIL path does: Pillow's ImageEnhance for the first three, and
    for hue a shift of Pillow's 8-bit HSV hue channel by int(shift · 255), wrapping around.
    """
    low = max(0.0, 1.0 - strength)
    steps = {
        "brightness": lambda img, f: ImageEnhance.Brightness(img).enhance(f),
        "contrast": lambda img, f: ImageEnhance.Contrast(img).enhance(f),
        "saturation": lambda img, f: ImageEnhance.Color(img).enhance(f),
        "hue": _shift_hue,
    }
    factors = {name: rng.uniform(low, 1.0 + strength) for name in ("brightness", "contrast", "saturation")}
    factors["hue"] = rng.uniform(-strength, strength)
    names = list(steps)
    for index in rng.permutation(len(names)):
        image = steps[names[index]](image, factors[names[index]])
    return image


def _shift_hue(image: Image.Image, shift: float) -> Image.Image:
    hue, saturation, value = image.convert("HSV").split()
    turned = (np.asarray(hue, dtype=np.int64) + int(shift * 255)) % 256
    return Image.merge("HSV", (Image.fromarray(turned.astype(np.uint8), "L"), saturation, value)).convert("RGB")
