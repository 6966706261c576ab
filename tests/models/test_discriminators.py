"""Discriminators: PEN-Net's patch critic (official names, count, output size), SRPNet's Table A2
critics and the local critic's crop around the holes."""

from __future__ import annotations


import pytest
import torch

from models.discriminators import (
    ContextDiscriminator,
    GlobalLocalDiscriminator,
    PatchDiscriminator,
    local_crop_size,
)
from models.local_crop import crop_around_holes, crop_origins
from tests.parity import needs, official_rows, shapes

PENNET_DISCRIMINATOR_PARAMETERS = 4_318_401


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_patch_discriminator_count_and_27x27_map():
    critic = PatchDiscriminator()
    assert count(critic) == PENNET_DISCRIMINATOR_PARAMETERS
    (logits,) = critic(torch.zeros(1, 3, 256, 256), torch.zeros(1, 1, 256, 256))
    assert logits.shape == (1, 1, 27, 27)


@needs("pennet/discriminator_params.tsv")
def test_patch_discriminator_names_are_the_official_ones():
    assert shapes(PatchDiscriminator().state_dict()) == official_rows("pennet/discriminator_params.tsv")


def test_table_a2_critic_sizes_and_count():
    critic = ContextDiscriminator()
    print(f"SRPNet critic parameters (each of global, local): {count(critic):,}")
    assert count(critic) == PENNET_DISCRIMINATOR_PARAMETERS  # same layers, other strides
    with torch.no_grad():
        assert critic(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 7, 7)
        assert critic(torch.zeros(1, 3, 128, 128)).shape == (1, 1, 3, 3)
        assert critic(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 1, 1)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_global_local_outputs(size):
    critic = GlobalLocalDiscriminator(size)
    assert count(critic) == 2 * PENNET_DISCRIMINATOR_PARAMETERS
    masks = torch.zeros(2, 1, size, size)
    masks[:, :, :8, :8] = 1
    with torch.no_grad():
        global_logits, local_logits = critic(torch.zeros(2, 3, size, size), masks)
    assert global_logits.shape[0] == local_logits.shape[0] == 2
    assert local_crop_size(size) == {64: 64, 128: 64, 256: 128}[size]


def test_crop_is_centred_on_the_hole_box_and_clamped_at_borders():
    masks = torch.zeros(5, 1, 256, 256)
    masks[0, :, 100:140, 60:80] = 1  # centre (120, 70): crop starts at (56, 6)
    masks[1, :, 0:10, 0:10] = 1  # top-left corner: clamped to (0, 0)
    masks[2, :, 250:256, 240:256] = 1  # bottom-right corner: clamped to (128, 128)
    masks[3, :, 10:20, 10:20] = 1  # two holes: one box spanning both,
    masks[3, :, 200:210, 150:160] = 1  # centre (110, 85): crop starts at (46, 21)
    top, left = crop_origins(masks, 128)  # sample 4 has no hole: centre crop (64, 64)
    assert top.tolist() == [56, 0, 128, 46, 64]
    assert left.tolist() == [6, 0, 128, 21, 64]


def test_crop_gathers_the_right_pixels_and_passes_gradients():
    images = torch.randn(3, 3, 64, 64, requires_grad=True)
    masks = torch.zeros(3, 1, 64, 64)
    masks[0, :, 0:4, 60:64] = 1
    masks[1, :, 30:34, 30:34] = 1
    masks[2, :, 50:64, 0:5] = 1
    crops = crop_around_holes(images, masks, 32)
    top, left = crop_origins(masks, 32)
    for b in range(3):
        t, l = int(top[b]), int(left[b])
        assert torch.equal(crops[b], images[b, :, t : t + 32, l : l + 32])
    crops.sum().backward()
    assert images.grad.sum() == crops.numel()


def test_crop_larger_than_image_is_refused():
    with pytest.raises(ValueError, match="local crop 128"):
        crop_origins(torch.zeros(1, 1, 64, 64), 128)


@pytest.mark.parametrize("critic", [PatchDiscriminator(), GlobalLocalDiscriminator(128)],
                         ids=["patch", "global_local"])
def test_gradients_reach_every_critic_parameter(critic):
    masks = torch.zeros(2, 1, 128, 128)
    masks[:, :, 40:80, 20:60] = 1
    sum(out.sum() for out in critic(torch.randn(2, 3, 128, 128), masks)).backward()
    assert all(p.grad is not None and p.grad.any() for p in critic.parameters())
