"""GLCIC baseline: parity shapes, training phases, seam conventions and post-processing."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.glcic import method as glcic
from baselines.glcic import networks as glcic_networks
from baselines.glcic import postprocess as glcic_postprocess
from baselines.glcic.method import build, frozen, hole_corners, phase_boundaries
from baselines.glcic.postprocess import poisson_clone, solve_dirichlet, telea_fill
from bench import methods
from tests.parity import needs, official_rows, shapes
from bench.method import MethodSpec, OptionError

MEAN = (0.1, -0.2, 0.3)
TRAIN_SIZE = 32  # training tests run at 32x32: a 64x64 step takes seconds on the shared 2 cores


def make(size=64, **options):
    spec = MethodSpec(
        image_size=size,
        iterations=options.pop("iterations", 500),
        seed=options.pop("seed", 0),
        options=options,
        mean_pixel=MEAN,
    )
    return build(spec)


def batch(size=64, count=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(count, 3, size, size, generator=g) * 2 - 1
    masks = torch.zeros(count, 1, size, size)
    quarter = size // 4
    masks[0, :, quarter : 3 * quarter, quarter : 3 * quarter] = 1  # the paper's centre square
    masks[1:, :, 2 : size // 3, size // 2 : size - 3] = 1
    return images, masks


def snapshot(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


# --- networks -------------------------------------------------------------------------------
def test_parameter_counts_match_the_reimplementation():
    method = make(256)
    assert method.parameter_counts() == {"completion": 6_072_131, "discriminator": 45_063_681}
    d = method.networks["discriminator"]
    assert sum(p.numel() for p in d.model_ld.parameters()) == 19_253_248
    assert sum(p.numel() for p in d.model_gd.parameters()) == 25_808_384


@needs("glcic/C.tsv", "glcic/D.tsv")
def test_state_dict_names_match_the_reimplementation():
    method = make(256)
    for name in ("completion", "discriminator"):
        tsv = "glcic/C.tsv" if name == "completion" else "glcic/D.tsv"
        assert shapes(method.networks[name].state_dict()) == official_rows(tsv)


def test_completion_network_uses_the_papers_dilations():
    net = make(64).networks["completion"]
    assert [net.get_submodule(f"conv{i}").dilation[0] for i in range(7, 11)] == [2, 4, 8, 16]


@pytest.mark.parametrize("size", [128, 256])
def test_forward_shapes(size):
    method = make(size).eval()
    images, masks = batch(size, count=1)
    out = method.inpaint(images, masks)
    assert out.shape == (1, 3, size, size)
    d = method.networks["discriminator"]
    with torch.no_grad():
        logits = method.judge(glcic.to_unit(images), hole_corners(masks, size // 2))
    assert d.local_size == size // 2 and logits.shape == (1,)


def test_local_patch_is_centred_on_the_hole_and_kept_inside():
    masks = torch.zeros(3, 1, 256, 256)
    masks[0, :, 64:192, 64:192] = 1
    masks[1, :, 0:20, 240:256] = 1
    masks[2, :, 100:110, 30:31] = 1
    assert hole_corners(masks, 128) == [(64, 64), (0, 128), (41, 0)]


# --- training ------------------------------------------------------------------------------
def test_phase_lengths_follow_the_papers_proportions():
    shares = (90_000.0, 10_000.0, 400_000.0)
    assert phase_boundaries(500, shares) == (90, 100)
    assert phase_boundaries(500_000, shares) == (90_000, 100_000)
    assert phase_boundaries(3, shares) == (1, 2)  # every phase gets a step
    assert phase_boundaries(10, shares) == (2, 3)
    assert phase_boundaries(20, (1.0, 0.0, 0.0)) == (20, 20)
    method = make(64, iterations=500)
    assert [method.phase(s) for s in (0, 89, 90, 99, 100, 499, 600)] == [
        "completion", "completion", "discriminator", "discriminator", "joint", "joint", "joint"]


def test_each_phase_updates_only_its_networks():
    method = make(TRAIN_SIZE, iterations=3)  # one step per phase
    images, masks = batch(TRAIN_SIZE)
    c, d = method.networks["completion"], method.networks["discriminator"]

    before_c, before_d = snapshot(c), snapshot(d)
    assert set(method.train_step(images, masks, 0)) == {"mse"}
    assert not same(before_c, snapshot(c)) and same(before_d, snapshot(d))

    before_c, before_d = snapshot(c), snapshot(d)
    assert set(method.train_step(images, masks, 1)) == {"loss_d"}
    assert same(before_c, snapshot(c)) and not same(before_d, snapshot(d))

    before_c, before_d = snapshot(c), snapshot(d)
    losses = method.train_step(images, masks, 2)
    assert set(losses) == {"mse", "adversarial", "loss_c", "loss_d"}
    assert losses["loss_c"] == pytest.approx(losses["mse"] + 0.0004 * losses["adversarial"])
    assert not same(before_c, snapshot(c)) and not same(before_d, snapshot(d))


def test_alpha_weighs_the_critic_only_in_the_joint_phase():
    images, masks = batch(TRAIN_SIZE)
    small, unit = (make(TRAIN_SIZE, iterations=3, alpha=a) for a in (0.0004, 1.0))
    # Phase 2 (step 1): D's own loss, the same whatever alpha is (otenim: (fake + real) / 2).
    phase2 = [m.train_step(images, masks, 1)["loss_d"] for m in (small, unit)]
    assert phase2[0] == pytest.approx(phase2[1], rel=1e-6) and phase2[0] > 0.1
    assert same(snapshot(small.networks["discriminator"]), snapshot(unit.networks["discriminator"]))
    # Phase 3 (step 2): alpha weighs D's loss too, as the paper's joint objective and otenim.
    phase3 = [m.train_step(images, masks, 2)["loss_d"] for m in (small, unit)]
    assert phase3[0] == pytest.approx(0.0004 * phase3[1], rel=1e-4)


def test_frozen_discriminator_passes_gradients_but_does_not_change():
    method = make(64)
    d = method.networks["discriminator"].train()
    images, masks = batch(64)
    fake = glcic.to_unit(images).requires_grad_(True)
    before = snapshot(d)
    with frozen(d):
        method.judge(fake, hole_corners(masks, 32)).sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None and p.requires_grad for p in d.parameters())
    assert same(before, snapshot(d))  # BN running statistics included


def test_reconstruction_loss_falls_on_a_fixed_batch():
    method = make(TRAIN_SIZE, iterations=20, phase_proportions=(1, 0, 0))
    images, masks = batch(TRAIN_SIZE)
    losses = [method.train_step(images, masks, step)["mse"] for step in range(20)]
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])


def test_same_seed_same_output_and_training():
    images, masks = batch(TRAIN_SIZE)
    first, again, other = (make(TRAIN_SIZE, iterations=3, seed=s).eval() for s in (4, 4, 5))
    assert torch.equal(first.inpaint(images, masks), again.inpaint(images, masks))
    assert not torch.equal(first.inpaint(images, masks), other.inpaint(images, masks))
    runs = [[m.train().train_step(images, masks, s) for s in range(3)] for m in (first, again)]
    assert runs[0] == runs[1]
    assert torch.equal(first.eval().inpaint(images, masks), again.eval().inpaint(images, masks))


# --- the seam ------------------------------------------------------------------------------
def test_hole_is_filled_with_the_mean_colour_and_output_is_in_range():
    images, masks = batch(64)
    method = make(64).eval()
    seen = []
    method.networks["completion"].register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    out = method.inpaint(images, masks)
    (x,) = seen
    hole = masks[:, 0] > 0.5
    assert x.shape == (2, 4, 64, 64) and torch.equal(x[:, 3:], masks)
    pixels = x[:, :3].permute(0, 2, 3, 1)
    fill = (torch.tensor(MEAN) + 1) / 2  # the spec's mean colour, in [0, 1]
    assert torch.allclose(pixels[hole], fill.expand(int(hole.sum()), 3))
    assert torch.allclose(pixels[~hole], glcic.to_unit(images).permute(0, 2, 3, 1)[~hole])
    assert out.min() >= -1 and out.max() <= 1
    known = masks.expand_as(images) == 0
    composite = (1 - masks) * images + masks * out
    assert torch.equal(composite[known], images[known])
    assert composite.min() >= -1 and composite.max() <= 1


@pytest.mark.parametrize("postprocess", [False, True])
def test_inpaint_never_reads_hole_pixels(postprocess):
    method = make(64, postprocess=postprocess).eval()
    images, masks = batch(64)
    scrambled = torch.where(masks > 0, torch.rand_like(images) * 2 - 1, images)
    assert torch.equal(method.inpaint(images, masks), method.inpaint(scrambled, masks))


# --- post-processing ------------------------------------------------------------------------
def test_postprocess_changes_only_hole_pixels_and_stays_in_range():
    images, masks = batch(64)
    raw = make(64).eval().inpaint(images, masks)
    method = make(64, postprocess=True).eval()
    assert method.protocol() == {"glcic_postprocess": "on"}
    out = method.inpaint(images, masks)
    keep = masks.expand_as(images) == 0
    assert torch.allclose(out[keep], images[keep], atol=1e-6)
    assert out.min() >= -1 and out.max() <= 1
    assert not torch.allclose(out[~keep], raw[~keep], atol=1e-3)


def test_poisson_solver_recovers_a_known_function():
    rng = np.random.default_rng(0)
    f = rng.random((9, 12, 2))
    laplacian = f[:-2, 1:-1] + f[2:, 1:-1] + f[1:-1, :-2] + f[1:-1, 2:] - 4 * f[1:-1, 1:-1]
    frame = f.copy()
    frame[1:-1, 1:-1] = 0
    assert np.allclose(solve_dirichlet(laplacian, frame), f)


def test_poisson_clone_of_an_image_onto_itself_is_the_image():
    yy, xx = np.mgrid[0:40, 0:40] / 40
    image = np.stack([np.sin(3 * xx) * yy, xx * xx, 0.5 + 0 * xx], -1)
    hole = np.zeros((40, 40), bool)
    hole[8:30, 5:33] = True
    hole[25:37, 20:26] = True
    assert np.allclose(poisson_clone(image, image, hole), image)


def test_fast_marching_fill_is_a_local_weighted_mean():
    rng = np.random.default_rng(1)
    image = rng.random((30, 30, 3))
    hole = np.zeros((30, 30), bool)
    hole[5:20, 8:25] = True
    filled = telea_fill(image, hole)
    assert np.array_equal(filled[~hole], image[~hole])
    assert filled[hole].min() >= image[~hole].min() and filled[hole].max() <= image[~hole].max()
    flat = np.full((30, 30, 3), 0.25)
    assert np.allclose(telea_fill(np.where(hole[..., None], 1.0, flat), hole), 0.25)


# --- options, registry, departures -----------------------------------------------------------
def test_unknown_or_bad_options_are_named():
    with pytest.raises(OptionError, match="bogus"):
        make(64, bogus=1)
    with pytest.raises(OptionError, match="phase_proportions"):
        make(64, phase_proportions=(1, 2))
    with pytest.raises(OptionError, match="postprocess"):
        make(64, postprocess="yes")
    with pytest.raises(ValueError, match="image_size 66"):
        make(66)


def test_registry_builds_it_with_adadelta_and_protocol():
    method = methods.create("glcic", MethodSpec(image_size=64, options={"lr": 0.5}))
    assert isinstance(method, glcic.GLCIC) and method.name == "glcic"
    assert all(isinstance(o, torch.optim.Adadelta) for o in method.optimizers.values())
    assert method.optimizers["completion"].param_groups[0]["lr"] == 0.5
    assert method.protocol() == {"glcic_postprocess": "off"}


def test_every_departure_is_commented_where_it_happens():
    source = "".join(Path(module.__file__).read_text() for module in (glcic, glcic_networks, glcic_postprocess))
    commented = re.findall(r"# departure: (.+)", source)
    assert sorted(commented) == sorted(make(64).departures())


def test_state_dict_round_trip():
    images, masks = batch(TRAIN_SIZE)
    method = make(TRAIN_SIZE, iterations=3)
    for step in range(3):
        method.train_step(images, masks, step)
    clone = make(TRAIN_SIZE, iterations=3, seed=9)
    clone.load_state_dict(copy.deepcopy(method.state_dict()))
    assert torch.equal(method.eval().inpaint(images, masks), clone.eval().inpaint(images, masks))


def test_a_single_image_batch_at_small_size_is_a_clear_error():
    method = make(64, phase_proportions=(0, 1, 1))
    images = torch.rand(1, 3, 64, 64) * 2 - 1
    masks = torch.zeros(1, 1, 64, 64)
    masks[..., 16:48, 16:48] = 1
    with pytest.raises(ValueError, match="at least 2 images per process"):
        method.train_step(images, masks, 0)
