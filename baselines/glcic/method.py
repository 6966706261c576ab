"""GLCIC (Iizuka, Simo-Serra, Ishikawa, SIGGRAPH 2017) behind the Method seam.

The completion network works in [0, 1] with holes filled by the training set's mean colour and a
Sigmoid output; the adapter converts from and to the harness's [-1, 1]. Training runs the paper's
three phases: completion network alone on the hole MSE, then the context discriminator alone with
the completion network frozen, then both jointly with the GAN term weighted by alpha. The paper's
optional post-processing (fast-marching fill, then Poisson blending) is the `postprocess` option.
Networks: `baselines.glcic.networks`; reference notes: shared/reference/models.md §3.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.glcic import release as glcic_release
from baselines.glcic.networks import CompletionNetwork, ContextDiscriminator
from baselines.glcic.postprocess import postprocess
from bench.method import CheckedOptions, Method, MethodSpec, OfficialWeights, Release, frozen

DEFAULTS = {
    "postprocess": False,
    "lr": 1.0,  # Adadelta's learning rate (torch and otenim/GLCIC-PyTorch default)
    "alpha": 0.0004,
    "phase_proportions": (90_000, 10_000, 400_000),  # T_C, T_D, joint (500k in total)
}

DEPARTURES = [
    "conv -> BN -> ReLU as the paper; otenim/GLCIC-PyTorch applies BN after ReLU.",
    "phase lengths are the paper's 90k : 10k : 400k iterations scaled to the run's budget "
    "(option phase_proportions).",
    "the completion network sees the image in [0, 1] with holes at the training-set mean colour "
    "(as otenim); the official model takes image minus mean with holes at 0, a constant shift.",
    "the reconstruction term is the mean of (m * (C(x) - x))^2 over all pixels (otenim's "
    "mse_loss), not the paper's squared norm (a sum).",
    "C's adversarial term is the non-saturating alpha * BCE(D(C(x)), real) (as otenim), not the "
    "paper's alpha * log(1 - D(C(x))).",
    "neither loss is halved as in otenim/GLCIC-PyTorch; the paper's objective has no such factor.",
    "post-processing fill: our own Telea (2004) fast marching with radius 1 in float64, the "
    "weighted mean of filled 4-neighbours; OpenCV's INPAINT_TELEA adds a small normalised "
    "gradient term and rounds each pixel to uint8 after adding 0.5.",
    "post-processing blend: OpenCV seamlessClone NORMAL_CLONE's discretisation solved in float64 "
    "(OpenCV: uint8 in and out) and placed exactly over the hole (OpenCV, centred as otenim "
    "does, lands one pixel up-left when the hole's box has an even side).",
]

COMPLETION, DISCRIMINATOR, JOINT = "completion", "discriminator", "joint"


# --- options and the phase schedule ---------------------------------------------------------
def checked_options(options: dict) -> dict:
    """The method's options over DEFAULTS; a bad value raises an error naming it."""
    checked = CheckedOptions("glcic", options, DEFAULTS)
    return {"postprocess": checked.boolean("postprocess"), "lr": checked.number("lr"),
            "alpha": checked.number("alpha"),
            "phase_proportions": checked.shares("phase_proportions", 3, "completion, discriminator, joint")}


def phase_boundaries(iterations: int, shares: tuple[float, float, float]) -> tuple[int, int]:
    """(end of phase 1, end of phase 2) as step counts; steps from the second on are joint.

    The lengths follow `shares`; a phase with a positive share gets at least one step when
    `iterations` allows it (three positive shares: from 3 iterations on).
    """
    total = sum(shares)
    end_c = math.floor(iterations * shares[0] / total + 0.5)
    end_d = math.floor(iterations * (shares[0] + shares[1]) / total + 0.5)
    if shares[0] > 0:
        end_c = max(end_c, 1)
    if shares[1] > 0:
        end_d = max(end_d, end_c + 1)
    if shares[2] > 0:
        end_d = min(end_d, iterations - 1)
        end_c = min(end_c, end_d - (1 if shares[1] > 0 else 0))
    end_c = min(max(end_c, 0), iterations)
    return end_c, min(max(end_d, end_c), iterations)


# --- tensors at the seam ---------------------------------------------------------------------
def to_unit(images: torch.Tensor) -> torch.Tensor:
    return (images + 1) / 2


def from_unit(images: torch.Tensor) -> torch.Tensor:
    return images * 2 - 1


def completion_input(known: torch.Tensor, masks: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] with the holes at `fill` (never reading hole pixels), plus the mask."""
    return torch.cat([torch.where(masks > 0.5, fill.view(1, 3, 1, 1), known), masks], dim=1)


def hole_corners(masks: torch.Tensor, side: int) -> list[tuple[int, int]]:
    """Top-left corners of `side`-square crops centred on each hole's bounding box, kept inside."""
    size = masks.shape[-1]
    corners = []
    for mask in masks[:, 0] > 0.5:
        rows, cols = torch.nonzero(mask.any(1)).flatten(), torch.nonzero(mask.any(0)).flatten()
        if len(rows) == 0:
            corners.append(((size - side) // 2, (size - side) // 2))
            continue
        top = (int(rows[0]) + int(rows[-1]) + 1 - side) // 2
        left = (int(cols[0]) + int(cols[-1]) + 1 - side) // 2
        corners.append((min(max(top, 0), size - side), min(max(left, 0), size - side)))
    return corners


def random_corners(
    count: int, size: int, side: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in rng.integers(0, size - side + 1, size=2)) for _ in range(count)]


def crop(images: torch.Tensor, corners: list[tuple[int, int]], side: int) -> torch.Tensor:
    return torch.stack([img[:, t : t + side, l : l + side] for img, (t, l) in zip(images, corners)])


# --- the method ---------------------------------------------------------------------------
class GLCIC(Method):
    """Completion network + global/local context discriminator, three training phases."""

    name = "glcic"
    watched_losses = ("mse",)  # the completion network's reconstruction term (bench.divergence)
    # Measured (docs/methods.md, "Checking a method"): with 100 steps (phases C 18, D 2, joint 80)
    # the fit batch scores about 20 dB until step 50 (batch-norm statistics settling), 25.5 at
    # 62, 34.9 at 100: past the check's 24.49 dB from step 62.
    fit_check_steps = 100
    released_mean: tuple[float, float, float] | None = None  # a loaded release's `mean`

    def __init__(self, spec: MethodSpec) -> None:
        super().__init__()
        self.options = checked_options(spec.options)
        if spec.image_size % 4 or spec.image_size < 4:
            raise ValueError(
                f"glcic: image_size {spec.image_size} must be a positive multiple of 4 "
                "(the completion network halves the resolution twice)"
            )
        self.spec = spec
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            # paper silent: PyTorch's default initialisation (as otenim/GLCIC-PyTorch).
            self.completion = CompletionNetwork()
            self.discriminator = ContextDiscriminator(spec.image_size)
        self.networks = {COMPLETION: self.completion, DISCRIMINATOR: self.discriminator}
        # paper: AdaDelta; silent on its rho and eps, so torch's defaults (0.9, 1e-6) as otenim.
        self.optimizers = {
            name: torch.optim.Adadelta(net.parameters(), lr=self.options["lr"])
            for name, net in self.networks.items()
        }
        # departure: phase lengths are the paper's 90k : 10k : 400k iterations scaled to the run's budget (option phase_proportions).
        self.boundaries = phase_boundaries(spec.iterations, self.options["phase_proportions"])
        # paper silent on other sizes: the local patch is half the image side (128 at 256).
        self.local_side = self.discriminator.local_size

    def departures(self) -> list[str]:
        if self.released_mean is None:
            return list(DEPARTURES)
        return [d for d in DEPARTURES if not d.startswith("the completion network sees")] + glcic_release.DEPARTURES

    def releases(self) -> tuple[Release, ...]:
        return glcic_release.RELEASES

    def read_official(self, path: Path) -> OfficialWeights:
        return glcic_release.read_release(path, COMPLETION, self.completion)

    def official_loaded(self, weights: OfficialWeights) -> None:
        """The release's mean colour: from now on the network sees inpaint.lua's input."""
        self.released_mean = weights.settings[glcic_release.MEAN]

    def protocol(self) -> dict[str, str]:
        return {"glcic_postprocess": "on" if self.options["postprocess"] else "off"}

    def phase(self, step: int) -> str:
        end_c, end_d = self.boundaries
        return COMPLETION if step < end_c else DISCRIMINATOR if step < end_d else JOINT

    # --- pieces ---
    def network_input(self, known: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The completion network's 4-channel input for images `known` in [0, 1]."""
        if self.released_mean is not None:
            return glcic_release.official_input(known, masks, self.released_mean)
        fill = (torch.tensor(self.spec.mean_pixel, dtype=known.dtype, device=known.device) + 1) / 2
        # departure: the completion network sees the image in [0, 1] with holes at the training-set mean colour (as otenim); the official model takes image minus mean with holes at 0, a constant shift.
        return completion_input(known, masks, fill)

    def complete(
        self, known: torch.Tensor, masks: torch.Tensor, net: nn.Module | None = None
    ) -> torch.Tensor:
        """The raw output in [0, 1] of `net`: the completion network unless its replica is given."""
        return (net or self.completion)(self.network_input(known, masks))

    def judge(
        self, images: torch.Tensor, corners: list[tuple[int, int]], net: nn.Module | None = None
    ) -> torch.Tensor:
        """Logits of `net` (the critic unless its replica is given) for `images` in [0, 1], local
        patches at `corners`."""
        return (net or self.discriminator)(crop(images, corners, self.local_side), images)

    @staticmethod
    def reconstruction(
        output: torch.Tensor, target: torch.Tensor, masks: torch.Tensor
    ) -> torch.Tensor:
        # departure: the reconstruction term is the mean of (m * (C(x) - x))^2 over all pixels (otenim's mse_loss), not the paper's squared norm (a sum).
        return F.mse_loss(output * masks, target * masks)

    def discriminator_step(
        self, target: torch.Tensor, output: torch.Tensor, corners: list[tuple[int, int]], step: int,
        weight: float,
    ) -> float:
        """One update of D on real images and completions (`output`, detached), its loss × `weight`."""
        rng = np.random.default_rng([self.spec.seed, step, self.rank])
        # paper: a real image's local patch sits at a random place (its mask M_d is random).
        real_corners = random_corners(len(target), self.spec.image_size, self.local_side, rng)
        # paper silent: real and fake pass D as separate batches (own BN statistics), as otenim.
        critic = self.replica(DISCRIMINATOR)
        real = self.judge(target, real_corners, critic)
        fake = self.judge(output, corners, critic)
        # departure: neither loss is halved as in otenim/GLCIC-PyTorch; the paper's objective has no such factor.
        loss = weight * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
        self.optimize(DISCRIMINATOR, loss)
        return loss.item()

    # --- the seam ---
    def train_step(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> dict[str, float]:
        target = to_unit(images)
        phase = self.phase(step)
        if phase == COMPLETION:
            output = self.complete(target, masks, self.replica(COMPLETION))
            mse = self.reconstruction(output, target, masks)
            self.optimize(COMPLETION, mse)
            return {"mse": mse.item()}
        if len(images) == 1 and self.spec.image_size < 128:
            raise ValueError(f"glcic: the critic's batch norm sees a 1×1 map at {self.spec.image_size}² "
                             "and needs at least 2 images per process; raise train.batch_size")
        corners = hole_corners(masks, self.local_side)
        if phase == DISCRIMINATOR:
            with torch.no_grad(), frozen(self.completion):
                output = self.complete(target, masks)
            # paper: phase 2 trains D alone on its own loss, no α (otenim train.py: (fake + real) / 2).
            return {"loss_d": self.discriminator_step(target, output, corners, step, 1.0)}
        # paper: D judges C(x, M_c), the network's raw output (Eq. 2; otenim alike), no composite.
        output = self.complete(target, masks, self.replica(COMPLETION))
        # paper: in the joint phase α weighs the adversarial terms of Eq. 3, D's included (otenim alike).
        loss_d = self.discriminator_step(target, output.detach(), corners, step, self.options["alpha"])
        with frozen(self.discriminator):
            fooled = self.judge(output, corners)
        mse = self.reconstruction(output, target, masks)
        # departure: C's adversarial term is the non-saturating alpha * BCE(D(C(x)), real) (as otenim), not the paper's alpha * log(1 - D(C(x))).
        adversarial = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        loss_c = mse + self.options["alpha"] * adversarial
        self.optimize(COMPLETION, loss_c)
        return {
            "mse": mse.item(),
            "adversarial": adversarial.item(),
            "loss_c": loss_c.item(),
            "loss_d": loss_d,
        }

    @torch.no_grad()
    def inpaint(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        known = to_unit(images)
        output = self.completion(self.network_input(known, masks))
        if self.options["postprocess"]:  # it fills the holes itself: their pixels are not read
            output = postprocess(known, output, masks)
        return from_unit(output)


def build(spec: MethodSpec) -> Method:
    """The registry's factory for "glcic"."""
    return GLCIC(spec)
