"""SRPNet's readings of Table A1 and equations 2–4, each asserted, and each recorded: every
`# departure:` line of the generator's modules is a sentence of SRPNet's departures()."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from bench.method import MethodSpec
from bench.methods import create
from bench import metrics
from bench.data import images, masks
from models import attention, encoder, generator
from models.attention import SOFTMAX_SCALE, attention_transfer
from models.generator import PyramidContextGenerator


def activations(net: PyramidContextGenerator) -> list[nn.Module]:
    return [getattr(net, f"dw_conv{level:02d}")[1] for level in range(1, 7)]


def test_sixth_encoder_conv_ends_in_lrelu_as_table_a1_only_in_the_residual_encoder():
    srpnet = activations(PyramidContextGenerator(residual_blocks=True))
    assert all(isinstance(a, nn.LeakyReLU) and a.negative_slope == 0.2 for a in srpnet)
    pennet = activations(PyramidContextGenerator(residual_blocks=False))
    assert all(isinstance(a, nn.LeakyReLU) for a in pennet[:5])
    assert type(pennet[5]) is nn.ReLU  # PEN-Net's dw_conv06 (the parity fixture's network)


def test_residual_blocks_keep_stride_1_and_padding_1():
    block = PyramidContextGenerator(residual_blocks=True).dw_conv03[2]
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2
    assert all(c.stride == (1, 1) and c.padding == (1, 1) and c.kernel_size == (3, 3) for c in convs)


def test_atm_rows_read_as_pennet_atms_not_1x1_convs():
    net = PyramidContextGenerator(residual_blocks=True)
    assert net.at_conv05.ksize == 1 and net.at_conv05.branches == 0
    for level, channels in zip(range(4, 0, -1), (256, 128, 64, 32)):
        atm = getattr(net, f"at_conv{level:02d}")
        assert atm.ksize == 3
        convs = [getattr(atm, f"conv{i:02d}")[0] for i in range(4)]
        assert [c.dilation for c in convs] == [(1, 1), (2, 2), (4, 4), (8, 8)]
        assert all(c.kernel_size == (3, 3) and c.in_channels == channels
                   and c.out_channels == channels // 4 for c in convs)


def test_attention_follows_pennet_code_not_equations_2_to_4():
    torch.manual_seed(0)
    shallow, deep = torch.randn(1, 4, 16, 16), torch.relu(torch.randn(1, 8, 8, 8))
    mask = torch.zeros(1, 1, 32, 32)
    mask[:, :, 8:20, 8:20] = 1
    out = attention_transfer(shallow, deep, mask)
    assert SOFTMAX_SCALE == 10.0
    # The whole map is rebuilt: a known corner is not the input (eq. 4 fills only holes).
    assert not torch.allclose(out[..., :2, :2], shallow[..., :2, :2], atol=1e-3)
    # Only the keys are normalised: scaling the deep map sharpens the softmax (with both patches
    # normalised, as eq. 2, the result would not depend on the deep map's scale).
    assert not torch.allclose(attention_transfer(shallow, 3 * deep, mask), out, atol=1e-3)


def test_every_departure_comment_is_listed_in_srpnet_departures():
    listed = create("srpnet", MethodSpec(image_size=256)).departures()
    found = []
    for module in (encoder, attention, generator):
        text = Path(module.__file__).read_text()
        found += re.findall(r"# departure: (.+)", text)
    assert len(found) >= 4
    for sentence in found:
        assert sentence in listed, sentence
    baseline = create("srpnet-baseline", MethodSpec(image_size=256)).departures()
    assert not any("ATMConv" in line or "equations 2–4" in line or "LeakyReLU" in line
                   for line in baseline)


def test_data_protocol_departures_from_pennets_loader_are_listed_by_the_family():
    """The bicubic resize and the > 0 mask threshold, against PEN-Net's loader."""
    found = []
    for module in (images, masks):
        found += [s for s in re.findall(r"# departure: (.+)", Path(module.__file__).read_text())
                  if "PEN-Net's loader" in s]
    assert len(found) == 2
    for name in ("pennet", "srpnet-baseline", "srpnet"):
        listed = create(name, MethodSpec(image_size=64)).departures()
        assert all(sentence in listed for sentence in found), name


def test_the_resize_is_bicubic_and_grey_mask_pixels_are_holes(tmp_path):
    from PIL import Image
    ramp = Image.fromarray((torch.arange(64).repeat(64, 1) * 4).numpy().astype("uint8")).convert("RGB")
    ours = images.resize_square(ramp, 16)
    assert ours.tobytes() == ramp.resize((16, 16), Image.Resampling.BICUBIC).tobytes()
    assert ours.tobytes() != ramp.resize((16, 16), Image.Resampling.NEAREST).tobytes()
    grey = torch.zeros(8, 8, dtype=torch.uint8)
    grey[2:4, 2:4], grey[5, 5] = 255, 1  # a faint anti-aliased pixel
    Image.fromarray(grey.numpy()).save(tmp_path / "m.png")
    loaded = masks.read_mask_png(tmp_path / "m.png", 8)
    assert loaded[5, 5] == 1.0 and loaded.sum() == 5 and set(loaded.ravel()) == {0.0, 1.0}


def test_msssim_record_says_the_paper_is_silent_and_which_implementation():
    info = metrics.SPECS["msssim_pct"].definition
    assert "pytorch-msssim" in info and "does not state" in info and "core/metric.py" in info
