"""PEN-Net's losses on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from models.losses import (
    LOSS_WEIGHTS,
    discriminator_loss,
    generator_adversarial_loss,
    generator_losses,
    masked_l1,
    pyramid_l1,
)


def test_masked_l1_normalises_by_the_region_size():
    truth = torch.zeros(1, 3, 4, 4)
    prediction = torch.zeros(1, 3, 4, 4)
    prediction[..., :2, :] = 2.0  # error 2 on the top half only
    top = torch.zeros(1, 1, 4, 4)
    top[..., :2, :] = 1
    assert masked_l1(prediction, truth, top).item() == pytest.approx(2.0)
    assert masked_l1(prediction, truth, 1 - top).item() == pytest.approx(0.0)


def test_pyramid_l1_is_an_unweighted_sum_over_scales():
    truth = torch.full((1, 3, 16, 16), 0.5)
    pyramid = [torch.zeros(1, 3, 8, 8), torch.full((1, 3, 4, 4), 1.0)]
    assert pyramid_l1(pyramid, truth).item() == pytest.approx(0.5 + 0.5)


def test_hinge_losses():
    real, fake = [torch.tensor([2.0, 0.0])], [torch.tensor([-3.0, 1.0])]
    # real: relu(1-2)=0, relu(1-0)=1 → 0.5; fake: relu(1-3)=0, relu(1+1)=2 → 1
    assert discriminator_loss(real, fake, "hinge").item() == pytest.approx(0.5 * (0.5 + 1.0))
    assert generator_adversarial_loss(fake, "hinge").item() == pytest.approx(1.0)


def test_nsgan_losses_are_bce_on_the_sigmoid():
    real, fake = [torch.tensor([0.0])], [torch.tensor([math.log(3.0)])]  # sigmoid = 0.75
    expected_d = 0.5 * (math.log(2.0) + -math.log(0.25))
    assert discriminator_loss(real, fake, "nsgan").item() == pytest.approx(expected_d)
    assert generator_adversarial_loss(fake, "nsgan").item() == pytest.approx(-math.log(0.75))


def test_several_critics_are_averaged():
    one = [torch.tensor([2.0])]
    two = [torch.tensor([2.0]), torch.tensor([-4.0])]
    assert generator_adversarial_loss(two, "hinge").item() == pytest.approx(1.0)
    assert discriminator_loss(two, two, "hinge").item() == pytest.approx(
        0.5 * (discriminator_loss(one, one, "hinge") + discriminator_loss(
            [torch.tensor([-4.0])], [torch.tensor([-4.0])], "hinge")).item())


def test_generator_total_uses_pennet_weights():
    torch.manual_seed(0)
    truth = torch.rand(2, 3, 16, 16)
    output = torch.rand(2, 3, 16, 16)
    masks = (torch.rand(2, 1, 16, 16) > 0.5).float()
    pyramid = [torch.rand(2, 3, 8, 8)]
    terms = generator_losses(output, pyramid, truth, masks, [torch.randn(2, 1, 3, 3)], "hinge")
    assert LOSS_WEIGHTS == {"hole": 6.0, "valid": 1.0, "pyramid": 0.5, "adversarial": 0.1}
    expected = (6 * terms["hole"] + terms["valid"] + 0.5 * terms["pyramid"]
                + 0.1 * terms["adversarial"])
    assert terms["total"].item() == pytest.approx(expected.item())


def test_unknown_gan_type_is_named():
    with pytest.raises(ValueError, match="'lsgan'"):
        generator_adversarial_loss([torch.zeros(1)], "lsgan")
