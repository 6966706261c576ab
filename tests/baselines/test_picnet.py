"""PIC-Net baseline: parity with the official networks, training, polarity, sampling, options."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.picnet import method as picnet
from baselines.picnet.networks import Discriminator, Encoder, Generator, from_official_state_dict
from bench import methods
from bench.method import MethodSpec, OptionError
from tests.parity import needs, official_rows

# Official counts (print_network: every nn.Parameter, incl. its frozen spectral-norm u, v)
# and the trainable part of them.
OFFICIAL_ALL = {"E": 3_635_614, "G": 2_399_558, "D": 1_591_490, "D_rec": 1_591_490}
OFFICIAL_TRAINABLE = {"E": 3_604_224, "G": 2_374_016, "D": 1_575_075, "D_rec": 1_575_075}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a busy 2-core machine, two make these small steps ~10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(size: int = 64, seed: int = 0, **options) -> picnet.PICNet:
    return picnet.build(MethodSpec(image_size=size, seed=seed, options=options))


def batch(size: int, n: int = 2, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random images in [-1, 1] and a rectangular hole (1 = hole) per image."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 8, 8, generator=g) * 2 - 1
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")
    masks = torch.zeros(n, 1, size, size)
    for i in range(n):
        top, left = size // 4 + 2 * i, size // 8 + 3 * i
        masks[i, :, top : top + size // 2, left : left + size // 3] = 1
    return images, masks


def test_parameter_counts_equal_the_official():
    method = make(256)
    assert method.parameter_counts() == OFFICIAL_TRAINABLE
    for name, net in method.networks.items():
        sn_vectors = sum(b.numel() for k, b in net.named_buffers() if k.endswith(("_u", "_v")))
        assert method.parameter_counts()[name] + sn_vectors == OFFICIAL_ALL[name]


@needs("picnet/E.tsv", "picnet/G.tsv", "picnet/D.tsv")
@pytest.mark.parametrize("name,net", [("E", Encoder), ("G", Generator), ("D", Discriminator)])
def test_official_checkpoint_names_load(name, net):
    official = {key: torch.zeros(shape) for key, shape in official_rows(f"picnet/{name}.tsv")}
    ours = net()
    ours.load_state_dict(from_official_state_dict(official))  # strict: same names and shapes
    assert all(not p.detach().any() for p in ours.parameters())


def test_two_path_forward_shapes_at_128():
    method = make(128)
    images, masks = batch(128, n=1)
    out = method._forward_two_paths(images, masks)
    assert [tuple(x.shape) for x in out["gen"]] == [(1, 3, s, s) for s in (16, 32, 64, 128)]
    assert [tuple(x.shape) for x in out["rec"]] == [(1, 3, s, s) for s in (16, 32, 64, 128)]
    assert tuple(out["posterior"][0].shape) == (1, 128, 4, 4)
    assert tuple(out["prior"][1].shape) == (1, 128, 4, 4)
    assert tuple(method.networks["D"](images).shape) == (1, 1, 2, 2)


def test_inference_shapes_at_256():
    method = make(256)
    images, masks = batch(256, n=1)
    with torch.no_grad():
        features = method.networks["E"].features(images)
        assert tuple(features[-1].shape) == (1, 128, 8, 8)  # the 128 x 8 x 8 latent's grid
        assert tuple(method.networks["D_rec"](images).shape) == (1, 1, 6, 6)
    assert tuple(method.inpaint(images, masks).shape) == (1, 3, 256, 256)


def test_reconstruction_loss_falls_at_64():
    torch.manual_seed(0)
    method = make(64)
    images, masks = batch(64, n=1)
    logs = [method.train_step(images, masks, step) for step in range(20)]
    names = {"kl_rec", "kl_g", "app_rec", "app_g", "ad_g", "ad_rec", "img_d", "img_d_rec"}
    assert set(logs[0]) == names
    assert all(math.isfinite(v) for log in logs for v in log.values())
    app_rec = [log["app_rec"] for log in logs]
    assert np.mean(app_rec[-5:]) < 0.8 * np.mean(app_rec[:5])
    assert method.parameter_counts() == make(64).parameter_counts()  # D unfrozen again


def test_output_range_and_harness_compositing():
    method = make(64)
    images, masks = batch(64)
    pred = method.inpaint(images, masks)
    assert pred.shape == images.shape and bool(torch.isfinite(pred).all())  # SN sane before training
    assert pred.min() >= -1 and pred.max() <= 1
    composite = (1 - masks) * images + masks * pred  # the harness's composite (1 = hole)
    visible = 1 - masks  # the official img_out = (1 - mask) * g + mask * I_m, with 1 = visible
    official = (1 - visible) * pred + visible * (visible * images)
    assert torch.equal(composite, official)
    known = masks.expand_as(images) == 0
    assert torch.equal(composite[known], images[known])


def test_mask_polarity_is_converted_at_the_boundary():
    images, holes = batch(64)
    images = images - 0.5  # negatives inside the holes too
    visible, img_m, img_c = picnet.picnet_inputs(images, holes)
    assert torch.equal(visible, 1 - holes)
    hole = holes.expand_as(images).bool()
    assert torch.equal(img_m[~hole], images[~hole]) and bool((img_m[hole] == 0).all())
    assert not torch.signbit(img_m[hole]).any()  # +0.0: nothing of a hole pixel survives
    assert torch.equal(img_c[hole], images[hole]) and bool((img_c[~hole] == 0).all())
    n = visible.flatten(1).mean(1) - 1e-5
    expected = 1 / (1 + torch.exp(8 * (n - 0.8)))
    assert torch.allclose(picnet.prior_sigma(visible).flatten(), expected)

    # what E actually sees at test time: the image where the harness mask is 0, zero where 1
    method = make(64)
    seen = []
    hook = method.networks["E"].block0.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    method.inpaint(images, holes)
    hook.remove()
    assert torch.equal(seen[0], torch.where(hole, torch.zeros_like(images), images))


def test_inpaint_never_reads_hole_pixels():
    method = make(64)
    images, masks = batch(64)
    changed = torch.where(masks.bool(), torch.rand_like(images) * 2 - 1, images)
    assert not torch.equal(changed, images)
    assert torch.equal(method.inpaint(images, masks), method.inpaint(changed, masks))
    candidates = method.inpaint_candidates(images, masks, 2)
    assert torch.equal(candidates, method.inpaint_candidates(changed, masks, 2))


def test_seeded_sampling_is_reproducible_and_batch_independent():
    images, masks = batch(64)
    first, again, other = make(64, seed=3), make(64, seed=3), make(64, seed=4)
    out = first.inpaint(images, masks)
    assert torch.equal(out, again.inpaint(images, masks))
    assert torch.equal(out, first.inpaint(images, masks))  # calls do not consume a stream
    assert not torch.allclose(out, other.inpaint(images, masks))
    swapped = first.inpaint(images.flip(0), masks.flip(0)).flip(0)
    assert torch.allclose(out, swapped, atol=1e-5)
    alone = first.inpaint(images[1:], masks[1:])
    assert torch.allclose(out[1:], alone, atol=1e-5)

    candidates = first.inpaint_candidates(images, masks, 3)
    assert candidates.shape == (3, *images.shape)
    assert torch.equal(candidates[0], out)
    assert not torch.allclose(candidates[0], candidates[1])  # distinct samples of the prior


def _numpy_official_score(gt: np.ndarray, pre: np.ndarray) -> float:
    """util/evaluation.py's compute_errors on H x W x 3 arrays in 0..255, as the sum it ranks."""
    l1 = np.mean(np.abs(gt - pre))
    mse = np.mean((gt - pre) ** 2)
    psnr = 100 if mse == 0 else 20 * math.log10(255.0 / math.sqrt(mse))
    gx = pre - np.roll(pre, -1, axis=1)
    gy = pre - np.roll(pre, -1, axis=0)
    return l1 - psnr + np.mean(np.sqrt(gx**2 + gy**2))


def test_best_of_n_picks_the_minimum_criterion_candidate():
    size = 16
    truth = torch.full((2, 3, size, size), 0.1)
    truth[1, :, :, size // 2 :] = -0.4
    checker = (torch.arange(size).view(-1, 1) + torch.arange(size)).remainder(2) * 2 - 1
    noisy = truth + 8 / 127.5 * checker  # smallest L1, but high TV
    shifted = truth + 12 / 127.5  # larger L1, no added TV
    far = truth.flip(0)  # swaps the two images' content
    candidates = torch.stack([noisy, shifted, far])
    chosen, index = picnet.PICNet.select_best(truth, candidates)
    assert index.tolist() == [1, 1]
    assert torch.equal(chosen, shifted)

    def to_uint8(x):
        return ((x.permute(1, 2, 0).numpy() + 1) / 2.0 * 255.0).astype(np.uint8).astype(np.float32)

    for i in range(2):
        scores = [_numpy_official_score(to_uint8(truth[i]), to_uint8(c[i])) for c in candidates]
        assert int(np.argmin(scores)) == index[i]
        ours = [float(picnet.official_criterion(truth[i], c[i])) for c in candidates]
        assert np.allclose(ours, scores, atol=1e-3)
    l1 = [(c - truth).abs().mean().item() for c in candidates]
    assert int(np.argmin(l1)) == 0  # L1 alone would have picked another candidate

    ties = torch.stack([truth, truth])
    assert picnet.PICNet.select_best(truth, ties)[1].tolist() == [0, 0]  # first on ties


def test_options_protocol_and_departures():
    with pytest.raises(OptionError, match="smaples"):
        make(64, smaples=3)
    with pytest.raises(OptionError, match="selection='best'"):
        make(64, selection="best")
    with pytest.raises(OptionError, match="betas"):
        make(64, betas=[0.5])
    with pytest.raises(ValueError, match="image_size=100"):
        make(100)

    method = make(64, samples=5, selection="best-of-N", gan_type="hinge", lr=2e-4, betas=[0.5, 0.9])
    assert method.protocol()["picnet_selection"] == "best-of-N"
    assert method.protocol()["picnet_samples"] == "5"
    assert any("ground truth" in line for line in method.departures())
    group = method.optimizers["D"].param_groups[0]
    assert group["lr"] == 2e-4 and group["betas"] == (0.5, 0.9)
    assert any("padded by 1" in line for line in method.departures())
    assert not any("padded by 1" in line for line in make(128).departures())
    assert make(64).protocol() == {
        "picnet_selection": "first",
        "picnet_samples": "1",
    }


def test_best_of_n_scores_the_oracle_pick():
    method = make(64, samples=3, selection="best-of-N")
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    masks = torch.zeros(2, 1, 64, 64)
    masks[..., 16:48, 16:48] = 1
    candidates = images * (1 - masks) + method.inpaint_candidates(images, masks, 3) * masks
    chosen, _ = method.select_best(images, candidates)
    assert torch.equal(method.inpaint_scored(images, masks, images), chosen)
    first = make(64)
    assert torch.equal(first.inpaint_scored(images, masks, images), first.inpaint(images, masks))


def test_registry_builds_picnet():
    method = methods.create("picnet", MethodSpec(image_size=64))
    assert method.name == "picnet" and set(method.networks) == {"E", "G", "D", "D_rec"}
    assert set(method.optimizers) == {"G", "D"}
