"""The official PEN-Net code's training step, from a checkout of it that is never committed.

The checkout (a clone of https://github.com/researchmm/PEN-Net-for-Inpainting) is found at the
path given to `device_check --official-pennet DIR`, else at $INPAINT_BENCH_OFFICIAL_PENNET; its
`model/pennet.py` gives the networks (InpaintGenerator, Discriminator). The step is its
`core/trainer.py` `_train_epoch` body, restated here because `core/loss.py` needs torchvision and
VGG weights it never uses for PEN-Net's losses: one hinge D update on real and composited images,
then one G update (adversarial, hole and valid L1, pyramid L1), Adam (0.5, 0.999) as its configs.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

ENVIRONMENT = "INPAINT_BENCH_OFFICIAL_PENNET"
# Loss weights of its configs/*.json (the step's speed does not depend on them).
HOLE_WEIGHT, VALID_WEIGHT, ADVERSARIAL_WEIGHT, PYRAMID_WEIGHT = 6.0, 1.0, 0.1, 0.5


def checkout(given: Path | None) -> Path | None:
    """The checkout's folder: `given`, else $INPAINT_BENCH_OFFICIAL_PENNET, else None."""
    found = given or (Path(os.environ[ENVIRONMENT]) if os.environ.get(ENVIRONMENT) else None)
    if found is not None and not (found / "model" / "pennet.py").is_file():
        raise FileNotFoundError(f"{found}: not a PEN-Net checkout (no model/pennet.py)")
    return found


def networks_module(folder: Path):
    """Its `model.pennet`, imported from `folder`; the checkout's top-level packages (`model`,
    `core`) are taken out of sys.modules again, so nothing else ever imports them by chance."""
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("model.pennet")
    finally:
        sys.path.remove(str(folder))
        for name in set(sys.modules) - before:
            if name.split(".")[0] in ("model", "core"):
                del sys.modules[name]


def train_step(folder: Path, images: torch.Tensor, masks: torch.Tensor) -> Callable[[], None]:
    """One official training step on (`images`, `masks`: 1 = hole), as a callable to time."""
    module = networks_module(folder)
    generator = module.InpaintGenerator().to(images.device)
    critic = module.Discriminator(in_channels=3, use_sigmoid=False).to(images.device)
    optimise_g = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.999))
    optimise_d = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.999))

    def step() -> None:
        inputs = torch.cat((images * (1 - masks) + masks, masks), dim=1)
        pyramid, output = generator(inputs, masks)
        composite = (1 - masks) * images + masks * output
        d_loss = (F.relu(1 - critic(images)).mean() + F.relu(1 + critic(composite.detach())).mean()) / 2
        optimise_d.zero_grad()
        d_loss.backward()
        optimise_d.step()
        g_loss = -critic(composite).mean() * ADVERSARIAL_WEIGHT
        g_loss = g_loss + HOLE_WEIGHT * F.l1_loss(output * masks, images * masks) / masks.mean()
        g_loss = g_loss + VALID_WEIGHT * F.l1_loss(output * (1 - masks), images * (1 - masks)) / (1 - masks).mean()
        g_loss = g_loss + PYRAMID_WEIGHT * sum(
            F.l1_loss(level, F.interpolate(images, size=level.shape[2:4], mode="bilinear", align_corners=True))
            for level in pyramid)
        optimise_g.zero_grad()
        g_loss.backward()
        optimise_g.step()

    return step
