"""PEN-Net's training losses (core/trainer.py, core/loss.py), which SRPNet keeps.

Generator: 6·hole L1 + 1·valid L1 + 0.5·pyramid L1 + 0.1·adversarial. Discriminators take a list
of logit maps (one per critic); with several critics (SRPNet's global + local) each term is the
mean over the critics.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

LOSS_WEIGHTS = {"hole": 6.0, "valid": 1.0, "pyramid": 0.5, "adversarial": 0.1}
GAN_TYPES = ("nsgan", "hinge")


def masked_l1(prediction: torch.Tensor, truth: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """mean|ŷ·w − x·w| / mean(w): the L1 over the weighted region, normalised by its size."""
    return (prediction * weight - truth * weight).abs().mean() / weight.mean()


def pyramid_l1(pyramid: Sequence[torch.Tensor], truth: torch.Tensor) -> torch.Tensor:
    """Unweighted, unmasked sum over side outputs of mean|side − truth resized to its size|."""
    total = truth.new_zeros(())
    for side in pyramid:
        target = F.interpolate(truth, size=side.shape[-2:], mode="bilinear", align_corners=True)
        total = total + (side - target).abs().mean()
    return total


def _check_gan_type(gan_type: str) -> None:
    if gan_type not in GAN_TYPES:
        raise ValueError(f"gan_type must be one of {', '.join(GAN_TYPES)}, got {gan_type!r}")


def _critic_loss(logits: torch.Tensor, real: bool, gan_type: str) -> torch.Tensor:
    if gan_type == "hinge":
        return F.relu(1.0 - logits if real else 1.0 + logits).mean()
    # departure: nsgan BCE computed from logits (the official D ends in a sigmoid and uses BCELoss, which clamps log at -100); same value elsewhere.
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def discriminator_loss(
    real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor], gan_type: str
) -> torch.Tensor:
    """0.5·(loss on real + loss on fake), averaged over the critics."""
    _check_gan_type(gan_type)
    # paper silent: the global and local critics' losses are averaged (equal weights).
    terms = [
        0.5 * (_critic_loss(r, True, gan_type) + _critic_loss(f, False, gan_type))
        for r, f in zip(real, fake, strict=True)
    ]
    return torch.stack(terms).mean()


def generator_adversarial_loss(fake: Sequence[torch.Tensor], gan_type: str) -> torch.Tensor:
    """hinge: −mean D(comp); nsgan: BCE(D(comp), real); averaged over the critics."""
    _check_gan_type(gan_type)
    if gan_type == "hinge":
        terms = [-logits.mean() for logits in fake]
    else:
        terms = [_critic_loss(logits, True, gan_type) for logits in fake]
    # paper silent: the global and local critics' adversarial terms are averaged (equal weights).
    return torch.stack(terms).mean()


def generator_losses(
    output: torch.Tensor,
    pyramid: Sequence[torch.Tensor],
    truth: torch.Tensor,
    masks: torch.Tensor,
    fake: Sequence[torch.Tensor] | None,
    gan_type: str,
    weights: dict[str, float] | None = None,
) -> dict[str, torch.Tensor]:
    """Each term of the generator loss and their weighted sum under "total" (`weights`: the
    terms' weights, LOSS_WEIGHTS unless a recipe says otherwise; `fake` None: a recipe without
    the adversarial term, which is then left out)."""
    terms = {
        "hole": masked_l1(output, truth, masks),
        "valid": masked_l1(output, truth, 1.0 - masks),
        "pyramid": pyramid_l1(pyramid, truth),
    }
    if fake is not None:
        terms["adversarial"] = generator_adversarial_loss(fake, gan_type)
    weights = LOSS_WEIGHTS if weights is None else weights
    terms["total"] = sum(weights[name] * value for name, value in terms.items())
    return terms
