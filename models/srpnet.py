"""SRPNet (Luo & Zheng, Information 2022) behind the Method seam, and its Table 5 variants.

Options: `residual_blocks` (SRPNet's residual encoder; off = PEN-Net's plain encoder),
`discriminator` ("global_local": SRPNet's two critics; "patch": PEN-Net's critic), `gan_type`
(default: PEN-Net's config for the dataset), `lr`, `betas`, and `adversarial_weight` /
`pyramid_weight` (default: PEN-Net's 0.1 and 0.5; another value is a recipe's stated departure).
With residual_blocks False and the
patch critic this is PEN-Net itself, which is how baselines/pennet.py builds it.
Each train_step is one discriminator update, then one generator update (PEN-Net's trainer).
"""

from __future__ import annotations

from typing import Any

import torch

from bench.method import CheckedOptions, Method, MethodSpec, frozen
from models.discriminators import GlobalLocalDiscriminator, PatchDiscriminator, local_crop_size
from models.generator import PyramidContextGenerator, check_image_shape, generator_input
from models.losses import GAN_TYPES, LOSS_WEIGHTS, discriminator_loss, generator_losses
from models.schedule import learning_rate, settings_for

DISCRIMINATORS = ("global_local", "patch")
DEFAULTS: dict[str, Any] = {
    "residual_blocks": True,
    "discriminator": "global_local",
    "gan_type": None,  # None: the dataset's PEN-Net config (hinge or nsgan)
    "lr": 1e-4,
    "betas": (0.5, 0.999),
    "adversarial_weight": LOSS_WEIGHTS["adversarial"],
    "pyramid_weight": LOSS_WEIGHTS["pyramid"],
}


class SRPNetMethod(Method):
    """Pyramid-context generator + critic(s), trained with PEN-Net's losses and schedule."""

    name = "srpnet"
    watched_losses = ("g_hole", "g_valid")  # the L1 terms (bench.divergence)

    def __init__(
        self,
        spec: MethodSpec,
        *,
        residual_blocks: bool,
        discriminator: str,
        gan_type: str,
        lr: float,
        betas: tuple[float, float],
        adversarial_weight: float = LOSS_WEIGHTS["adversarial"],
        pyramid_weight: float = LOSS_WEIGHTS["pyramid"],
    ) -> None:
        super().__init__()
        check_image_shape((spec.image_size, spec.image_size))
        self.spec = spec
        self.residual_blocks = residual_blocks
        # Measured (docs/methods.md, "Checking a method"): with residual blocks the fit batch
        # passes `methods check` from step 75 (26.9 dB at 200); the plain encoder (PEN-Net, the
        # ablation's baseline, +Discriminator) learns it slower: from step 175 to 350 of 500.
        self.fit_check_steps = 200 if residual_blocks else 500
        # Below 128² the deepest map is 1×1, where the residual block is the identity (unused).
        if residual_blocks and spec.image_size < 128:
            self.unused_parameters = frozenset({"generator"})
        self.discriminator_kind = discriminator
        self.gan_type = gan_type
        self.base_lr = lr
        self.loss_weights = {**LOSS_WEIGHTS, "adversarial": adversarial_weight, "pyramid": pyramid_weight}
        self.settings = settings_for(spec.dataset)
        # Weights depend only on the seed, without disturbing the caller's random stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            generator = PyramidContextGenerator(residual_blocks=residual_blocks)
            critic = (
                PatchDiscriminator()
                if discriminator == "patch"
                else GlobalLocalDiscriminator(spec.image_size)
            )
        self.generator, self.discriminator = generator, critic
        self.networks = {"generator": generator, "discriminator": critic}
        # paper silent (beyond lr 1e-4, betas (0.5, 0.999)): D's LR equals G's (PEN-Net d2glr = 1).
        self.optimizers = {
            name: torch.optim.Adam(net.parameters(), lr=lr, betas=tuple(betas))
            for name, net in self.networks.items()
        }

    def train_step(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> dict[str, float]:
        lr = learning_rate(self.base_lr, step, self.spec.iterations, self.settings)
        for name in self.optimizers:
            self.set_learning_rate(name, lr)
        generator = self.replica("generator")
        pyramid, output = generator(generator_input(images, masks), masks)
        composite = (1.0 - masks) * images + masks * output

        # With no adversarial term the critic cannot move the generator: it is neither run nor
        # trained, and the generator takes exactly the steps it would take beside it.
        fake, critic_logs = None, {}
        if self.loss_weights["adversarial"]:
            critic = self.replica("discriminator")
            d_loss = discriminator_loss(
                critic(images, masks), critic(composite.detach(), masks), self.gan_type
            )
            self.optimize("discriminator", d_loss)
            critic_logs = {"d_loss": d_loss.item()}
            # The critic only passes gradients through here; its own weights get none.
            with frozen(self.discriminator):
                fake = self.discriminator(composite, masks)
        terms = generator_losses(output, pyramid, images, masks, fake, self.gan_type, self.loss_weights)
        self.optimize("generator", terms["total"])

        logs = {f"g_{name}": value.item() for name, value in terms.items()}
        return {**logs, **critic_logs, "lr": lr}

    @torch.no_grad()
    def inpaint(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        was_training = self.generator.training
        self.generator.eval()
        try:
            _, output = self.generator(generator_input(images, masks), masks)
        finally:
            self.generator.train(was_training)
        return output

    def departures(self) -> list[str]:
        lines = [
            "nsgan BCE computed from logits (the official D ends in a sigmoid and uses BCELoss, "
            "which clamps log at -100); same value elsewhere.",
            "the LR milestones of PEN-Net's per-dataset config are scaled by the run's iteration "
            "budget over the official iteration count.",
            # The harness's data protocol, here because PEN-Net's loader is this family's reference.
            "images are resized with an explicit bicubic filter; PEN-Net's loader calls "
            "img.resize() with Pillow's default, nearest neighbour in the Pillow of its release "
            "(code of December 2019) and bicubic since Pillow 7.0 (January 2020).",
            "grey (anti-aliased) pixels of a mask file count as hole when > 0; PEN-Net's loader "
            "uses the grey values as they are (a soft mask in [0, 1]).",
        ]
        # departure: a recipe's learning rate or loss weight (the learn profile's), stated here.
        if self.base_lr != DEFAULTS["lr"]:
            lines.append(f"learning rate {self.base_lr:g} (the paper's and PEN-Net's: {DEFAULTS['lr']:g}), "
                         "set by this run's recipe.")
        for term in ("adversarial", "pyramid"):
            if self.loss_weights[term] != LOSS_WEIGHTS[term]:
                lines.append(f"{term} loss weight {self.loss_weights[term]:g} (PEN-Net's and SRPNet's: "
                             f"{LOSS_WEIGHTS[term]:g}), set by this run's recipe"
                             + (": the critic is neither run nor trained." if term == "adversarial"
                                and not self.loss_weights[term] else "."))
        if self.residual_blocks:
            lines.append(
                "residual blocks use stride 1, padding 1 where Table A1 prints stride 2, "
                "padding 0, which would shrink each level and break the pyramid sizes the table "
                "itself lists."
            )
            lines.append(
                "the sixth encoder conv of the residual encoder ends in LeakyReLU(0.2) as Table "
                "A1 prints (PEN-Net's code uses ReLU there, which the plain encoder of "
                "srpnet-baseline and pennet keeps)."
            )
        if self.residual_blocks or self.discriminator_kind != "patch":  # not PEN-Net itself
            lines += [
                "Table A1's five ATMConv rows (kernel 1, stride 1, C→C) are read as each attention "
                "transfer's shape (C channels in and out, resolution kept), not as 1×1 "
                "convolutions: Section 3.1 reuses PEN-Net's ATM [12], so we keep its 3×3 patch "
                "matching at levels 4–1 (1×1 at level 5) and its four dilated 3×3 fusion convs of "
                "C/4 channels each.",
                "equations 2–4 normalise both patches, apply no softmax scale and fill only the "
                "hole patches; as PEN-Net's code (which SRPNet builds on), we normalise only the "
                "key patches, scale the scores by 10 before the softmax and rebuild the whole "
                "shallow map, known positions included.",
            ]
        if (
            self.discriminator_kind == "global_local"
            and local_crop_size(self.spec.image_size) != self.spec.image_size // 2
        ):
            lines.append(
                "below 128² images the local crop is 64 px instead of half the side, since "
                "Table A2's critic needs a 63² input."
            )
        return lines


def _validate(options: dict[str, Any], dataset: str) -> dict[str, Any]:
    checked = CheckedOptions("srpnet", options, DEFAULTS)
    if checked.values["gan_type"] is None:
        checked.values["gan_type"] = settings_for(dataset).gan_type
    return {"residual_blocks": checked.boolean("residual_blocks"),
            "discriminator": checked.choice("discriminator", DISCRIMINATORS),
            "gan_type": checked.choice("gan_type", GAN_TYPES), "lr": checked.number("lr", positive=True),
            "betas": checked.betas("betas"),
            "adversarial_weight": checked.number("adversarial_weight"),
            "pyramid_weight": checked.number("pyramid_weight")}


def build(spec: MethodSpec) -> Method:
    """The registry's factory for srpnet, srpnet-baseline and srpnet+discriminator."""
    options = _validate(spec.options, spec.dataset)
    return SRPNetMethod(spec, **options)
