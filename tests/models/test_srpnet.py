"""SRPNet behind the Method seam: options, registry variants, a training step, inpainting and
the scaled PEN-Net LR schedule."""

from __future__ import annotations

import math

import pytest
import torch

from bench.method import MethodSpec, OptionError
from bench.methods import create
from models.discriminators import GlobalLocalDiscriminator, PatchDiscriminator
from models.schedule import learning_rate, settings_for
from models.srpnet import build


def batch(size: int, count: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(count, 3, size, size, generator=generator) * 2 - 1
    masks = torch.zeros(count, 1, size, size)
    masks[0, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    masks[1:, :, : size // 2, size // 3 :] = 1
    return images, masks


@pytest.mark.parametrize(
    "name, residual, critic",
    [("srpnet", True, GlobalLocalDiscriminator), ("srpnet-baseline", False, PatchDiscriminator),
     ("srpnet+discriminator", False, GlobalLocalDiscriminator)],
)
def test_registry_variants(name, residual, critic):
    method = create(name, MethodSpec(image_size=64, dataset="sample"))
    assert method.residual_blocks is residual
    assert isinstance(method.discriminator, critic)
    counts = method.parameter_counts()
    print(name, counts)
    assert counts["generator"] == (21_238_450 if residual else 10_231_538)
    assert counts["discriminator"] == (4_318_401 if critic is PatchDiscriminator else 8_636_802)


@pytest.mark.parametrize("dataset, gan_type", [("celeba-hq", "hinge"), ("places2", "hinge"),
                                                ("dtd", "nsgan"), ("facade", "nsgan"),
                                                ("sample", "nsgan")])
def test_gan_type_defaults_to_the_pennet_config(dataset, gan_type):
    assert build(MethodSpec(image_size=64, dataset=dataset)).gan_type == gan_type


def test_options_are_checked():
    with pytest.raises(OptionError, match="wings"):
        build(MethodSpec(image_size=64, options={"wings": 2}))
    with pytest.raises(OptionError, match="'pixel'"):
        build(MethodSpec(image_size=64, options={"discriminator": "pixel"}))
    with pytest.raises(OptionError, match="residual_blocks"):
        build(MethodSpec(image_size=64, options={"residual_blocks": "yes"}))
    with pytest.raises(OptionError, match="betas"):
        build(MethodSpec(image_size=64, options={"betas": [0.5]}))
    with pytest.raises(ValueError, match="moon"):
        build(MethodSpec(image_size=64, dataset="moon"))
    with pytest.raises(ValueError, match=r"\(100, 100\)"):
        build(MethodSpec(image_size=100))


@pytest.fixture(scope="module")
def trained():
    """srpnet after one train_step at 64², with its weights from before the step."""
    method = create("srpnet", MethodSpec(image_size=64, iterations=10, dataset="celeba-hq", seed=5))
    before = {name: [p.detach().clone() for p in net.parameters()]
              for name, net in method.networks.items()}
    images, masks = batch(64)
    losses = method.train_step(images, masks, step=0)
    return method, before, losses


def test_train_step_updates_both_networks_with_finite_losses(trained):
    method, before, losses = trained
    assert {"g_hole", "g_valid", "g_pyramid", "g_adversarial", "g_total", "d_loss"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values())
    for name, net in method.networks.items():
        changed = [not torch.equal(a, b) for a, b in zip(before[name], net.parameters())]
        assert any(changed), name
    assert all(p.requires_grad for p in method.discriminator.parameters())


def test_training_is_deterministic_for_a_seed(trained):
    images, masks = batch(64)
    again = create("srpnet", MethodSpec(image_size=64, iterations=10, dataset="celeba-hq", seed=5))
    again.train_step(images, masks, step=0)
    assert torch.equal(trained[0].inpaint(images, masks), again.inpaint(images, masks))
    first = create("srpnet", MethodSpec(image_size=64, seed=6)).inpaint(images, masks)
    other = create("srpnet", MethodSpec(image_size=64, seed=7)).inpaint(images, masks)
    assert not torch.equal(first, other)


def test_inpaint_ignores_hole_pixels_and_keeps_the_mode():
    method = create("srpnet", MethodSpec(image_size=64))
    images, masks = batch(64)
    changed = torch.where(masks.bool(), torch.rand_like(images) * 50, images)
    output = method.inpaint(images, masks)
    assert output.shape == images.shape and output.abs().max() <= 1
    assert torch.equal(output, method.inpaint(changed, masks))
    assert method.generator.training


def test_learning_rate_follows_the_scaled_schedule():
    method = create("srpnet-baseline", MethodSpec(image_size=64, iterations=1000, dataset="dtd"))
    images, masks = batch(64, count=1)
    assert method.train_step(images, masks, step=303)["lr"] == pytest.approx(1e-5)
    assert method.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-5)
    assert method.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(1e-5)
    dtd = settings_for("dtd")  # official: x0.1 at 100k, 200k, 300k of 330k
    rates = [learning_rate(1e-4, step, 1000, dtd) for step in (0, 302, 303, 606, 909, 999)]
    assert rates == pytest.approx([1e-4, 1e-4, 1e-5, 1e-6, 1e-7, 1e-7])
    assert learning_rate(1e-4, 99_999, 330_000, dtd) == pytest.approx(1e-5)
    assert learning_rate(1e-4, 99_998, 330_000, dtd) == pytest.approx(1e-4)
    places = settings_for("places2")  # one decay at 100k, steady after 150k
    assert learning_rate(1e-4, 999, 1000, places) == pytest.approx(1e-5)
    assert learning_rate(1e-4, 999, 1000, settings_for("celeba-hq")) == pytest.approx(1e-4)


def test_departures_name_the_active_changes():
    srpnet = "\n".join(build(MethodSpec(image_size=64)).departures())
    assert "Table A1" in srpnet and "63²" in srpnet
    baseline = "\n".join(create("srpnet-baseline", MethodSpec(image_size=256)).departures())
    assert "Table A1" not in baseline and "63²" not in baseline


def test_state_dict_round_trip(trained):
    images, masks = batch(64)
    second = create("srpnet", MethodSpec(image_size=64, seed=2))
    second.load_state_dict(trained[0].state_dict())
    assert torch.equal(trained[0].inpaint(images, masks), second.inpaint(images, masks))


@pytest.mark.parametrize("name", ["srpnet", "pennet"])
def test_recipe_options_are_stated_departures(name):
    """A recipe's lr and loss weights (the learn profile's) reach the loss and are stated; the
    defaults are the paper's and state nothing."""
    plain = create(name, MethodSpec(image_size=64))
    assert plain.loss_weights == {"hole": 6.0, "valid": 1.0, "pyramid": 0.5, "adversarial": 0.1}
    assert not any("set by this run's recipe" in line for line in plain.departures())
    recipe = create(name, MethodSpec(image_size=64, options={"lr": 3e-4, "adversarial_weight": 0,
                                                             "pyramid_weight": 0.25}))
    stated = "\n".join(line for line in recipe.departures() if "set by this run's recipe" in line)
    assert "learning rate 0.0003" in stated and "adversarial loss weight 0" in stated
    assert "pyramid loss weight 0.25" in stated
    with pytest.raises(OptionError, match="adversarial_weight"):
        create(name, MethodSpec(image_size=64, options={"adversarial_weight": -1}))


def test_without_the_adversarial_term_the_critic_is_left_alone_and_changes_nothing():
    """Weight 0: the critic is neither run nor trained, no adversarial term is logged, and the
    generator's loss is the one the critic's term would have added nothing to."""
    method = build(MethodSpec(image_size=64, options={"adversarial_weight": 0}))
    critic = {k: v.clone() for k, v in method.discriminator.state_dict().items()}
    images, masks = batch(64)
    logs = method.train_step(images, masks, 0)
    assert "d_loss" not in logs and "g_adversarial" not in logs
    assert all(torch.equal(critic[k], v) for k, v in method.discriminator.state_dict().items())
    from models.losses import LOSS_WEIGHTS, generator_losses

    pyramid, output = [images[:, :, ::2, ::2]], images.flip(0)
    weights = {**LOSS_WEIGHTS, "adversarial": 0.0}
    with_critic = generator_losses(output, pyramid, images, masks, [torch.randn(2, 1, 4, 4)], "nsgan", weights)
    without = generator_losses(output, pyramid, images, masks, None, "nsgan", weights)
    assert torch.equal(with_critic["total"], without["total"])
