"""Attention transfer: equals a per-sample reference written from the definition, never reads
hole patches, keeps shapes at every pyramid level."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.attention import AttentionTransfer, attendable_patches, attention_transfer


def reference_attention(shallow, deep, mask, ksize):
    """models.md §1.3 step by step, one sample and one patch at a time (slow, obvious)."""
    pad = 0 if ksize == 1 else 1
    outputs = []
    for b in range(shallow.shape[0]):
        x1, x2 = shallow[b : b + 1], deep[b : b + 1]
        height, width = x2.shape[-2:]
        small = F.interpolate(mask[b : b + 1], size=(height, width), mode="bilinear",
                              align_corners=True)
        small, x2p, x1p = F.pad(small, (pad,) * 4), F.pad(x2, (pad,) * 4), F.pad(x1, (1,) * 4)
        known, filters, raw = [], [], []
        for i in range(height):
            for j in range(width):
                known.append(float(small[0, 0, i : i + ksize, j : j + ksize].mean() == 0))
                patch = x2p[0, :, i : i + ksize, j : j + ksize]
                filters.append(patch / torch.clamp(patch.norm(), min=1e-4))
                raw.append(x1p[0, :, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4])
        known = torch.tensor(known, dtype=x2.dtype).view(1, -1, 1, 1)
        scores = F.conv2d(x2, torch.stack(filters), padding=pad) * known
        attention = (F.softmax(scores * 10, dim=1) * known).clamp(min=1e-8)
        outputs.append(F.conv_transpose2d(attention, torch.stack(raw), stride=2, padding=1) / 4)
    return torch.cat(outputs)


def masks_64(batch_kinds):
    masks = torch.zeros(len(batch_kinds), 1, 64, 64, dtype=torch.float64)
    for index, kind in enumerate(batch_kinds):
        if kind == "square":
            masks[index, :, 16:48, 16:48] = 1
        elif kind == "irregular":
            masks[index, :, 0:40, 10:30] = 1
            masks[index, :, 50:60, :] = 1
        elif kind == "full":
            masks[index] = 1
    return masks


@pytest.mark.parametrize("ksize", [3, 1])
def test_vectorised_equals_per_sample_reference_values_and_gradients(ksize):
    torch.manual_seed(0)
    masks = masks_64(["square", "irregular", "none", "full"])
    shallow = torch.randn(4, 8, 16, 16, dtype=torch.float64, requires_grad=True)
    deep = torch.randn(4, 16, 8, 8, dtype=torch.float64, requires_grad=True)
    ours = attention_transfer(shallow, deep, masks, ksize)
    reference = reference_attention(shallow, deep, masks, ksize)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-10)
    upstream = torch.randn_like(ours)
    ours_grads = torch.autograd.grad(ours, (shallow, deep), upstream)
    reference_grads = torch.autograd.grad(reference, (shallow, deep), upstream)
    for got, want in zip(ours_grads, reference_grads):
        assert want.abs().max() > 0.1
        torch.testing.assert_close(got, want, rtol=0, atol=1e-9)


def test_a_batch_without_any_known_patch_spreads_the_floor_evenly():
    torch.manual_seed(2)
    masks = masks_64(["full", "full"])
    shallow = torch.randn(2, 4, 16, 16, dtype=torch.float64)
    deep = torch.randn(2, 8, 8, 8, dtype=torch.float64)
    ours = attention_transfer(shallow, deep, masks)
    torch.testing.assert_close(ours, reference_attention(shallow, deep, masks, 3),
                               rtol=0, atol=1e-15)


def test_float32_matches_float64_reference():
    torch.manual_seed(1)
    masks = masks_64(["square", "irregular"])
    shallow, deep = torch.randn(2, 16, 32, 32), torch.relu(torch.randn(2, 32, 16, 16))
    ours = attention_transfer(shallow, deep, masks.float())
    reference = reference_attention(shallow.double(), deep.double(), masks, 3)
    torch.testing.assert_close(ours.double(), reference, rtol=0, atol=1e-5)


def test_attention_never_copies_from_hole_patches():
    """Hole patches are the perfect match for every hole query, and carry a marker value that
    no known patch has; the output must not contain it (beyond the 1e-8 floor's leak)."""
    mask = torch.zeros(1, 1, 64, 64)
    mask[:, :, 16:48, 16:48] = 1
    hole = F.interpolate(mask, size=(8, 8), mode="nearest").bool()
    deep = torch.randn(1, 16, 8, 8).abs()
    deep = torch.where(hole, torch.ones(1, 16, 1, 1), deep)  # identical vectors inside the hole
    shallow = torch.rand(1, 4, 16, 16)
    interior = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    interior[:, :, 6:10, 6:10] = True  # far enough inside that no known 4×4 patch reaches it
    shallow = torch.where(interior, torch.full_like(shallow, 1000.0), shallow)
    output = attention_transfer(shallow, deep, mask)
    assert output.max() < 1.0 + 1e-3
    # Control: with nothing masked, the hole queries do copy the marker.
    assert attention_transfer(shallow, deep, torch.zeros_like(mask)).max() > 100


def test_attendable_patches_need_an_all_zero_neighbourhood():
    mask = torch.zeros(1, 1, 64, 64)
    mask[:, :, 30:34, 30:34] = 1
    known = attendable_patches(mask, (16, 16), 3).view(16, 16)
    assert not known[6:10, 6:10].any()
    assert known[0, 0] and known[15, 15] and known[5, 5] and known[10, 10]
    assert attendable_patches(mask, (16, 16), 1).sum() > known.sum()
    # Official quirk kept: the align_corners resize samples every 4.2 px here, so a one-pixel
    # hole between two sample points does not reach the attention mask at all.
    mask = torch.zeros(1, 1, 64, 64)
    mask[:, :, 32, 32] = 1
    assert attendable_patches(mask, (16, 16), 3).all()


@pytest.mark.parametrize("size", [64, 128, 256])
def test_every_level_keeps_its_shape(size):
    mask = torch.zeros(1, 1, size, size)
    mask[:, :, size // 4 : size // 2, size // 4 : size // 2] = 1
    channels = (32, 64, 128, 256, 512, 512)
    for level in range(5, 0, -1):
        shallow_side, deep_side = size >> level, size >> (level + 1)
        module = AttentionTransfer(channels[level - 1], ksize=1 if level == 5 else 3,
                                   fuse=level != 5)
        shallow = torch.randn(1, channels[level - 1], shallow_side, shallow_side)
        deep = torch.randn(1, channels[level], deep_side, deep_side)
        with torch.no_grad():
            assert module(shallow, deep, mask).shape == shallow.shape


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="ksize"):
        attention_transfer(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 4, 4),
                           torch.zeros(1, 1, 16, 16), ksize=5)
    with pytest.raises(ValueError, match=r"\(1, 4, 8, 8\)"):
        attention_transfer(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 3, 3),
                           torch.zeros(1, 1, 16, 16))


def test_second_backward_is_refused():
    shallow = torch.randn(1, 4, 8, 8, requires_grad=True)
    output = attention_transfer(shallow, torch.randn(1, 4, 4, 4), torch.zeros(1, 1, 16, 16))
    output.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="twice"):
        output.sum().backward()


def test_autocast_leaves_the_attention_in_float32():
    torch.manual_seed(2)
    masks = masks_64(["square", "irregular"]).float()
    shallow, deep = torch.randn(2, 16, 32, 32), torch.relu(torch.randn(2, 32, 16, 16))
    plain = attention_transfer(shallow, deep, masks)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = attention_transfer(shallow, deep, masks)
        halved = attention_transfer(shallow.bfloat16(), deep.bfloat16(), masks)
    assert autocast.dtype == halved.dtype == torch.float32
    torch.testing.assert_close(autocast, plain, rtol=0, atol=1e-6)
    # bfloat16 inputs only lose their own rounding, not the attention's precision
    expected = attention_transfer(shallow.bfloat16().float(), deep.bfloat16().float(), masks)
    torch.testing.assert_close(halved, expected, rtol=0, atol=1e-6)
