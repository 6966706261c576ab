"""Training-free reference methods behind the Method seam: each fills the hole of one image at a
time from its known pixels alone, with no networks and nothing to train.

- `telea`, `navier-stokes`: OpenCV's `cv2.inpaint` (INPAINT_TELEA, INPAINT_NS) on the 8-bit image
  the evaluator scores (`bench.metrics.quantize`), with a radius option (default 3 px);
- `biharmonic`: scikit-image's `restoration.inpaint_biharmonic` on the float image;
- `mean-fill`: the known pixels' mean colour, per image and channel.

Their `train_step` refuses: the registry marks them `training_free`, so the harness evaluates
them without a training stage.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from bench.method import CheckedOptions, Method, MethodSpec
from bench.metrics import quantize

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image HW3, hole HW bool) → image HW3


class TrainingFreeError(RuntimeError):
    """A training step asked of a method that has nothing to train."""


class ClassicalMethod(Method):
    """A per-image fill function as a Method: no networks, no optimisers, no training."""

    def __init__(self, fill: Fill, *, eight_bit: bool, departures: list[str],
                 protocol: dict[str, str]) -> None:
        super().__init__()
        self.fill, self.eight_bit = fill, eight_bit
        self._departures, self._protocol = departures, protocol

    def train_step(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> dict[str, float]:
        raise TrainingFreeError(f"method {self.name!r} is training-free: evaluate it, there is nothing to train")

    def inpaint(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        holes = masks[:, 0].detach().cpu().numpy() > 0.5
        if self.eight_bit:
            pictures = quantize(images).cpu().numpy()
        else:
            pictures = images.detach().float().cpu().permute(0, 2, 3, 1).numpy()
        filled = np.stack([self.fill(p, h) for p, h in zip(pictures, holes)])
        output = torch.from_numpy(filled.astype(np.float32))
        if self.eight_bit:
            output = output / 255 * 2 - 1
        return output.permute(0, 3, 1, 2).to(images.device)

    def departures(self) -> list[str]:
        return list(self._departures)

    def protocol(self) -> dict[str, str]:
        return dict(self._protocol)


def _opencv(flag_name: str, label: str) -> Callable[[MethodSpec], ClassicalMethod]:
    def build(spec: MethodSpec) -> ClassicalMethod:
        import cv2

        radius = CheckedOptions(label, spec.options, {"radius": 3}).integer("radius", 1)
        flag = getattr(cv2, flag_name)

        # paper silent: a training-free reference, not in the paper: cv2.inpaint (INPAINT_TELEA or
        # INPAINT_NS) with inpaintRadius `radius` px on the 8-bit image.
        def fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
            return cv2.inpaint(np.ascontiguousarray(image), hole.astype(np.uint8), radius, flag)

        return ClassicalMethod(fill, eight_bit=True, departures=[
            f"paper silent: a training-free reference, not in the paper: cv2.inpaint ({flag_name}) "
            f"with inpaintRadius {radius} px on the 8-bit image."],
            protocol={"training": "none (training-free reference)",
                      "inpainting": f"cv2.inpaint({flag_name}, inpaintRadius={radius}) on 8-bit RGB"})

    return build


build_telea = _opencv("INPAINT_TELEA", "telea")
build_navier_stokes = _opencv("INPAINT_NS", "navier-stokes")


def build_biharmonic(spec: MethodSpec) -> ClassicalMethod:
    from skimage.restoration import inpaint_biharmonic

    CheckedOptions("biharmonic", spec.options, {})

    # paper silent: a training-free reference, not in the paper: skimage.restoration.inpaint_biharmonic on the float image.
    def fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return inpaint_biharmonic(image, hole, channel_axis=-1)

    return ClassicalMethod(fill, eight_bit=False, departures=[
        "paper silent: a training-free reference, not in the paper: "
        "skimage.restoration.inpaint_biharmonic on the float image."],
        protocol={"training": "none (training-free reference)",
                  "inpainting": "skimage.restoration.inpaint_biharmonic(channel_axis=-1)"})


def build_mean_fill(spec: MethodSpec) -> ClassicalMethod:
    CheckedOptions("mean-fill", spec.options, {})

    # paper silent: the trivial floor, not in the paper: every hole pixel is the known pixels' mean colour of its image.
    def fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        known = image[~hole]
        colour = known.mean(axis=0) if len(known) else np.zeros(image.shape[-1], image.dtype)
        return np.where(hole[..., None], colour, image)

    return ClassicalMethod(fill, eight_bit=False, departures=[
        "paper silent: the trivial floor, not in the paper: every hole pixel is the known pixels' "
        "mean colour of its image."],
        protocol={"training": "none (training-free reference)",
                  "inpainting": "the known pixels' mean colour, per image and channel"})
