"""Metrics: agreement with scikit-image, hand-computed cases, the PSNR cap, MS-SSIM windows."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bench import metrics as M


def _pair(seed=0, n=3, size=64, noise=0.2):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    y = (x + noise * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    return x, y


def test_quantize_truncates_like_pennet():
    t = torch.tensor([-1.0, 0.0, 0.999, 1.0, 1.5]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    q = M.quantize(t)
    assert q.dtype == torch.uint8 and q.shape == (1, 1, 5, 3)
    assert q[0, 0, :, 0].tolist() == [0, 127, 254, 255, 255]  # 127.5 → 127, 254.87 → 254


def test_quantize_gives_back_every_8_bit_level_read_through_to_tensor():
    from bench.data.images import to_tensor

    levels = np.arange(256, dtype=np.uint8)
    image = np.stack([levels] * 3, axis=-1)[None]  # 1 × 256 × 3
    assert M.quantize(to_tensor(image)[None])[0, 0, :, 0].tolist() == levels.tolist()


@pytest.mark.parametrize("size", [64, 256])
def test_psnr_and_ssim_equal_scikit_image(size):
    x, y = _pair(size=size)
    scores = M.score_batch(x, y)
    a, b = M.quantize(x).numpy(), M.quantize(y).numpy()
    for i in range(len(a)):
        assert scores["psnr"][i] == pytest.approx(peak_signal_noise_ratio(a[i], b[i], data_range=255), abs=1e-9)
        expected = structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255, channel_axis=-1)
        assert scores["ssim"][i] == pytest.approx(expected, abs=1e-4)


def test_l1_variants_by_hand():
    a = torch.full((1, 3, 64, 64), -1.0)
    a[..., :32] = 1.0  # half white (255), half black (0)
    b = torch.full((1, 3, 64, 64), -1.0)  # all black
    scores = M.score_batch(a, b)
    # Σ|a−b| = 255·N/2 ; Σ(a+b) = 255·N/2 → relative L1 = 100 %; MAE = 50 %
    assert scores["l1_rel_pct"][0] == pytest.approx(100.0)
    assert scores["mae_pct"][0] == pytest.approx(50.0)
    assert scores["psnr"][0] == pytest.approx(10 * np.log10(255**2 / (255**2 / 2)))


def test_identical_images_are_capped_not_infinite():
    x, _ = _pair()
    scores = M.score_batch(x, x.clone())
    assert np.all(scores["psnr"] == M.PSNR_CAP_DB)
    assert np.all(scores["l1_rel_pct"] == 0) and np.all(scores["mae_pct"] == 0)
    assert scores["msssim_pct"] == pytest.approx(100.0, abs=1e-3)
    assert np.isfinite(np.mean(np.concatenate([scores["psnr"], M.score_batch(*_pair())["psnr"]])))


def test_all_black_pair_has_zero_relative_l1():
    black = torch.full((1, 3, 64, 64), -1.0)
    assert M.score_batch(black, black)["l1_rel_pct"][0] == 0.0


def test_msssim_window_follows_pytorch_msssim_limit():
    assert M.msssim_window(256) == 11 and M.msssim_window(161) == 11
    assert M.msssim_window(160) == 9 and M.msssim_window(128) == 7 and M.msssim_window(64) == 3
    for size in (64, 96, 128, 160, 161):
        assert size > (M.msssim_window(size) - 1) * 16
    with pytest.raises(ValueError, match="33 px"):
        M.msssim_window(32)


def test_worse_images_score_worse():
    x, slightly = _pair(noise=0.05)
    _, badly = _pair(noise=0.5)
    good, bad = M.score_batch(x, slightly), M.score_batch(x, badly)
    for name in M.METRICS:
        better = good[name] > bad[name] if M.SPECS[name].higher_is_better else good[name] < bad[name]
        assert better.all(), name


def test_composite_takes_holes_from_the_prediction():
    images, prediction = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    masks = torch.zeros(1, 1, 4, 4)
    masks[..., 1:3, 1:3] = 1
    out = M.composite(images, masks, prediction)
    assert out.sum() == 3 * 4 and out[0, :, 1, 1].tolist() == [1, 1, 1] and out[0, :, 0, 0].tolist() == [0, 0, 0]


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match="differ in shape"):
        M.score_batch(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 32))
