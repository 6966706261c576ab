"""The pyramid-context generator: official names and counts, parity with the official PEN-Net
fixture, shapes, gradients, determinism and input checks."""

from __future__ import annotations


import pytest
import torch

from models.encoder import ENCODER_CHANNELS
from models.generator import PyramidContextGenerator, generator_input
from tests.parity import PARITY, needs, official_rows

needs_parity = needs("pennet/generator_params.tsv", "pennet/generator_io.pt")
PENNET_GENERATOR_PARAMETERS = 10_231_538


def fixture_weights() -> dict[str, torch.Tensor]:
    """The fixture's weights, as its README prescribes (one generator, seed 2020, TSV order)."""
    generator = torch.Generator().manual_seed(2020)
    weights = {}
    for name, shape in official_rows("pennet/generator_params.tsv"):
        sample = torch.randn(shape, generator=generator)
        fan_in = torch.Size(shape[1:]).numel()
        weights[name] = sample * 0.01 if name.endswith("bias") else sample * (2.0 / fan_in) ** 0.5
    return weights


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_pennet_generator_parameter_count():
    assert count(PyramidContextGenerator()) == PENNET_GENERATOR_PARAMETERS


def test_srpnet_generator_adds_two_3x3_convs_per_level():
    extra = sum(2 * (9 * c * c + c) for c in ENCODER_CHANNELS[1:])
    srpnet = PyramidContextGenerator(residual_blocks=True)
    print(f"SRPNet generator parameters: {count(srpnet):,}")
    assert count(srpnet) == PENNET_GENERATOR_PARAMETERS + extra == 21_238_450


@needs_parity
def test_state_dict_names_and_shapes_are_the_official_ones():
    ours = [(name, tuple(t.shape)) for name, t in PyramidContextGenerator().state_dict().items()]
    assert ours == official_rows("pennet/generator_params.tsv")


@needs_parity
def test_matches_the_official_generator_on_the_fixture():
    fixture = torch.load(PARITY / "pennet" / "generator_io.pt")
    generator = PyramidContextGenerator().eval()
    generator.load_state_dict(fixture_weights(), strict=True)
    with torch.no_grad():
        pyramid, output = generator(fixture["generator_input"], fixture["mask"])
    torch.testing.assert_close(output, fixture["output"], rtol=0, atol=1e-4)
    assert len(pyramid) == len(fixture["pyramid"]) == 5
    for ours, official in zip(pyramid, fixture["pyramid"]):
        torch.testing.assert_close(ours, official, rtol=0, atol=1e-4)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("size", [64, 128, 256])
def test_output_and_pyramid_shapes(size, residual):
    torch.manual_seed(0)
    images = torch.rand(1, 3, size, size) * 2 - 1
    masks = torch.zeros(1, 1, size, size)
    masks[:, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    with torch.no_grad():
        pyramid, output = PyramidContextGenerator(residual)(generator_input(images, masks), masks)
    assert output.shape == images.shape
    assert [p.shape[-1] for p in pyramid] == [size // 2**k for k in range(1, 6)]
    assert all(p.shape[:2] == (1, 3) for p in pyramid)
    assert output.abs().max() <= 1


def test_512_forward_with_a_large_hole():
    """512² works (deepest level 8×8); a mostly-hole mask keeps the attention small enough."""
    masks = torch.ones(1, 1, 512, 512)
    masks[:, :, :96, :96] = 0
    images = torch.zeros(1, 3, 512, 512)
    with torch.no_grad():
        pyramid, output = PyramidContextGenerator(True)(generator_input(images, masks), masks)
    assert output.shape == (1, 3, 512, 512) and pyramid[0].shape[-1] == 256


@pytest.mark.parametrize("residual", [False, True])
def test_gradients_reach_every_parameter(residual):
    torch.manual_seed(0)
    generator = PyramidContextGenerator(residual)
    images = torch.rand(1, 3, 128, 128) * 2 - 1
    masks = torch.zeros(1, 1, 128, 128)
    masks[0, :, 10:50, 60:120] = 1
    pyramid, output = generator(generator_input(images, masks), masks)
    (output.sum() + sum(p.sum() for p in pyramid)).backward()
    silent = [n for n, p in generator.named_parameters() if p.grad is None or not p.grad.any()]
    assert not silent


def test_same_seed_same_weights_and_output():
    images = torch.rand(1, 3, 64, 64)
    masks = torch.zeros(1, 1, 64, 64)
    masks[:, :, 16:48, 16:48] = 1
    outputs = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        with torch.no_grad():
            outputs.append(PyramidContextGenerator()(generator_input(images, masks), masks)[1])
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], outputs[2])


@pytest.mark.parametrize("shape", [(1, 4, 64, 128), (1, 4, 96, 96), (1, 4, 32, 32)])
def test_unsupported_shapes_raise_naming_the_shape(shape):
    with pytest.raises(ValueError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        PyramidContextGenerator()(torch.zeros(shape), torch.zeros(1, 1, *shape[-2:]))


def test_generator_input_hides_hole_pixels():
    images = torch.rand(1, 3, 8, 8)
    masks = torch.zeros(1, 1, 8, 8)
    masks[:, :, 2:6, 2:6] = 1
    poisoned = torch.where(masks.bool(), torch.full_like(images, float("nan")), images)
    inputs = generator_input(poisoned, masks)
    assert torch.equal(inputs, generator_input(images, masks))
    assert torch.equal(inputs[:, :3], images * (1 - masks) + masks)  # PEN-Net's x·(1−m)+m
    assert torch.equal(inputs[:, 3:], masks)
