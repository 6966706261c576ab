"""PEN-Net: assembled from models/ with its own settings, and the authors' released generator
checkpoints load by their own parameter names."""

from __future__ import annotations


import pytest
import torch

from baselines.pennet import build
from bench.method import MethodSpec, OptionError, ReleaseError
from bench.methods import create
from models.discriminators import PatchDiscriminator
from tests.parity import PARITY, needs, official_rows

needs_parity = needs("pennet/generator_params.tsv", "pennet/generator_io.pt")


def official_like_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the official names and shapes (from the parity list)."""
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=generator)
            for name, shape in official_rows("pennet/generator_params.tsv")}


def test_pennet_is_the_plain_generator_with_the_patch_critic():
    method = create("pennet", MethodSpec(image_size=64, dataset="celeba-hq"))
    assert method.parameter_counts() == {"generator": 10_231_538, "discriminator": 4_318_401}
    assert not method.residual_blocks and isinstance(method.discriminator, PatchDiscriminator)
    assert method.gan_type == "hinge"
    assert build(MethodSpec(image_size=64, dataset="dtd")).gan_type == "nsgan"
    assert isinstance(method, type(create("srpnet", MethodSpec(image_size=64))))


def test_pennet_accepts_only_its_options():
    with pytest.raises(OptionError, match="residual_blocks"):
        build(MethodSpec(image_size=64, options={"residual_blocks": True}))


@needs_parity
@pytest.mark.parametrize("form", ["wrapped", "bare", "data_parallel"])
def test_official_checkpoint_forms_load(tmp_path, form):
    weights = official_like_weights()
    saved = {
        "wrapped": {"netG": weights},
        "bare": weights,
        "data_parallel": {"netG": {f"module.{k}": v for k, v in weights.items()}},
    }[form]
    path = tmp_path / "gen_00030.pth"
    torch.save(saved, path)
    method = build(MethodSpec(image_size=64))
    record = method.load_official(path)
    assert record["format"] == "pennet-netG" and list(record["files"]) == ["gen_00030.pth"]
    loaded = method.generator.state_dict()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in weights.items())


@needs_parity
def test_a_wrong_checkpoint_is_refused(tmp_path):
    weights = official_like_weights()
    weights.pop("decoder.2.bias")
    path = tmp_path / "partial.pth"
    torch.save({"netG": weights}, path)
    method = build(MethodSpec(image_size=64))
    before = {k: v.clone() for k, v in method.generator.state_dict().items()}
    with pytest.raises(ReleaseError, match=r"partial\.pth: generator\.decoder\.2\.bias \(3,\) is missing"):
        method.load_official(path)
    torch.save({"netG": [1, 2]}, path)
    with pytest.raises(ReleaseError, match="partial.pth: not a PEN-Net generator checkpoint"):
        method.load_official(path)
    torch.save({"netG": {**weights, "module.decoder.0.bias": weights["decoder.0.bias"]}}, path)
    with pytest.raises(ReleaseError, match="decoder.0.bias and module.decoder.0.bias both map to generator.decoder.0.bias"):
        method.load_official(path)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.raises(ReleaseError, match="partial.pth: not a readable torch file"):
        method.load_official(path)
    assert all(torch.equal(v, before[k]) for k, v in method.generator.state_dict().items())


@needs_parity
def test_inpaint_of_a_loaded_official_generator_is_the_official_output(tmp_path):
    """The fixture's weights, saved as the official trainer saves them, loaded through the
    registry, reproduce the official forward (the fixture's holes are black, not white: it
    recorded G on image·(1−mask), so the generator is called directly here)."""
    generator = torch.Generator().manual_seed(2020)
    weights = {}
    for name, tensor in official_like_weights().items():
        sample = torch.randn(tensor.shape, generator=generator)
        fan_in = tensor[0].numel()
        weights[name] = sample * 0.01 if name.endswith("bias") else sample * (2.0 / fan_in) ** 0.5
    path = tmp_path / "gen_fixture.pth"
    torch.save({"netG": weights}, path)
    method = build(MethodSpec(image_size=256))
    method.load_official(path)
    fixture = torch.load(PARITY / "pennet" / "generator_io.pt")
    with torch.no_grad():
        _, output = method.generator.eval()(fixture["generator_input"][:1], fixture["mask"][:1])
    torch.testing.assert_close(output, fixture["output"][:1], rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ["pennet", "srpnet"])
def test_it_learns_a_fixed_batch(name):
    """Over 20 steps on one batch at 64² the hole reconstruction loss falls."""
    torch.manual_seed(0)
    method = create(name, MethodSpec(image_size=64, dataset="facade", seed=0, iterations=20))
    ramp = torch.linspace(-1, 1, 64)
    images = torch.stack([ramp.view(1, 64).expand(64, 64), ramp.view(64, 1).expand(64, 64),
                          (ramp.view(1, 64) * ramp.view(64, 1))]).unsqueeze(0).repeat(2, 1, 1, 1)
    masks = torch.zeros(2, 1, 64, 64)
    masks[..., 16:48, 16:48] = 1
    losses = [method.train_step(images, masks, step)["g_hole"] for step in range(20)]
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5]), losses
    out = method.inpaint(images * (1 - masks), masks)
    assert out.min() >= -1 and out.max() <= 1
