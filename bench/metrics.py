"""The paper's metrics — L1 (%), PSNR, MS-SSIM (%) — and SSIM, each defined once, per image.

Protocol (PEN-Net's evaluation, the code SRPNet was built on): the prediction is composited
with the ground truth (known pixels from the truth, holes from the prediction), both images are
quantised to uint8 the way PEN-Net saves its PNGs (`(t+1)/2·255`, then truncated), and every
metric is computed per image on those uint8 values, then averaged over images by the caller.

- `l1_rel_pct`: PEN-Net's relative L1, Σ|a−b| / Σ(a+b) × 100 (the harness's default L1).
- `mae_pct`: plain mean absolute error on [0, 1] × 100 (the other common "L1 (%)").
- `psnr`: 10·log10(255² / MSE) with data range 255; an identical pair is capped at 100 dB
  (Pluralistic's cap) so that no `inf` enters a mean.
- `ssim`: Wang et al.'s SSIM (11×11 Gaussian, σ = 1.5, K = (0.01, 0.03), data range 255,
  no padding: the border is cropped), the mean over RGB channels; equals scikit-image's
  `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255, channel_axis=-1)`.
- `msssim_pct`: pytorch-msssim's `ms_ssim` (5 scales, weights of Wang et al. 2003, σ = 1.5,
  data range 255) × 100, with an 11-pixel window when the image side exceeds 160 px; smaller
  images need a smaller window (`msssim_window`), recorded wherever results are written.
  The paper does not state its MS-SSIM implementation and PEN-Net's core/metric.py has none;
  pytorch-msssim is chosen because it is a PyTorch implementation of Wang et al. 2003 (the
  paper's reference [33]) with its published scales and weights, and a project dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pytorch_msssim import ms_ssim, ssim

PSNR_CAP_DB = 100.0


@dataclass(frozen=True)
class MetricSpec:
    """One per-image metric: its row column, how it is shown, which way is better, and the
    column of the paper's tables (results/paper/paper_tables.csv) it is compared with."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    paper_column: str | None
    definition: str


SPECS: dict[str, MetricSpec] = {s.key: s for s in (
    MetricSpec("l1_rel_pct", "L1 (%)", "%", False, "l1_pct",
               "relative L1 Σ|a−b|/Σ(a+b) ×100 on uint8 composites (PEN-Net core/metric.py)"),
    MetricSpec("mae_pct", "L1 (%)", "%", False, "l1_pct", "mean |a−b| on [0,1] ×100 on uint8 composites"),
    MetricSpec("psnr", "PSNR (dB)", "dB", True, "psnr",
               f"PSNR, data range 255, capped at {PSNR_CAP_DB:g} dB for identical images"),
    MetricSpec("ssim", "SSIM", "", True, None, "SSIM, 11×11 Gaussian σ=1.5, data range 255, mean over RGB"),
    MetricSpec("msssim_pct", "MS-SSIM (%)", "%", True, "msssim_pct",
               "MS-SSIM ×100 (pytorch-msssim, 5 scales, σ=1.5, data range 255; window per "
               "msssim_window); the paper does not state its implementation and PEN-Net's "
               "core/metric.py has none: pytorch-msssim implements Wang et al. 2003 (the "
               "paper's [33]) with its published scales and weights"),
)}
METRICS = tuple(SPECS)  # the columns score_batch returns, in row order
L1_VARIANTS = tuple(k for k, s in SPECS.items() if s.paper_column == "l1_pct")  # the two "L1 (%)"
DEFAULT_L1 = "l1_rel_pct"
# The paper's three metrics as the tables name them → the per-image metric that fills each
# (the L1 one is chosen per table among L1_VARIANTS).
TABLE_METRICS = {"l1": DEFAULT_L1, "psnr": "psnr", "msssim": "msssim_pct"}
# Paper column → higher is better (what the paper's tables are audited with).
PAPER_HIGHER_IS_BETTER = {SPECS[k].paper_column: SPECS[k].higher_is_better for k in TABLE_METRICS.values()}


def check_l1(l1: str) -> str:
    """`l1` if it names one of the L1 variants, else a clear error."""
    if l1 not in L1_VARIANTS:
        raise ValueError(f"unknown L1 variant {l1!r}; choose one of {', '.join(L1_VARIANTS)}")
    return l1


QUANTIZE_SLACK = 1e-3
"""Of a level: float32 carries an 8-bit value u through to_tensor and back as up to ~1e-4 below
u, which plain truncation turned into u − 1 (63 of the 256 levels); the slack keeps u."""


def quantize(images: torch.Tensor) -> torch.Tensor:
    """N3HW floats in [-1, 1] → N×H×W×3 uint8, truncating as PEN-Net's saved PNGs do (a value
    within QUANTIZE_SLACK of a level below it counts as that level, so an image read from 8 bits
    comes back exactly)."""
    scaled = (images.detach().double().clamp(-1, 1) + 1) / 2 * 255 + QUANTIZE_SLACK
    return scaled.clamp(max=255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def composite(images: torch.Tensor, masks: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Known pixels from the ground truth, holes (mask = 1) from the prediction."""
    return images * (1 - masks) + prediction * masks


def msssim_window(size: int) -> int:
    """The MS-SSIM window for images of side `size`: 11 above 160 px, else the largest odd
    window that pytorch-msssim's 5-scale check (side > (window−1)·16) accepts."""
    if size > 160:
        return 11
    window = (size - 1) // 16 + 1
    window -= 1 - window % 2
    if window < 3:
        raise ValueError(f"image side {size}: MS-SSIM with 5 scales needs at least 33 px")
    return window


def score_batch(truth: torch.Tensor, composite_images: torch.Tensor) -> dict[str, np.ndarray]:
    """Every metric for each image pair of a batch (N3HW in [-1, 1]); arrays of length N."""
    if truth.shape != composite_images.shape:
        raise ValueError(f"truth {tuple(truth.shape)} and composite {tuple(composite_images.shape)} differ in shape")
    return score_quantized(quantize(truth), quantize(composite_images))


def score_quantized(truth: torch.Tensor, composite_images: torch.Tensor) -> dict[str, np.ndarray]:
    """Every metric for each pair of quantised images (N×H×W×3 uint8, as `quantize` returns):
    what `score_batch` computes once it has quantised, and what scores 8-bit outputs a user
    supplies (bench.predictions), which are quantised already."""
    if truth.shape != composite_images.shape:
        raise ValueError(f"truth {tuple(truth.shape)} and composite {tuple(composite_images.shape)} differ in shape")
    a = truth.to(torch.float64)
    b = composite_images.to(torch.float64)
    per_image = (1, 2, 3)
    absolute = (a - b).abs().sum(per_image)
    total = (a + b).sum(per_image)
    l1_rel = torch.where(total > 0, absolute / total.clamp_min(1), torch.zeros_like(total)) * 100
    mae = absolute / (a[0].numel() * 255.0) * 100
    mse = ((a - b) ** 2).mean(per_image)
    psnr = torch.where(
        mse > 0, 10 * torch.log10(255.0**2 / mse.clamp_min(1e-12)), torch.full_like(mse, PSNR_CAP_DB)
    ).clamp_max(PSNR_CAP_DB)
    x = a.permute(0, 3, 1, 2).float()
    y = b.permute(0, 3, 1, 2).float()
    window = msssim_window(min(x.shape[-2:]))
    ssim_values = ssim(x, y, data_range=255, size_average=False, win_size=11)
    msssim_values = ms_ssim(x, y, data_range=255, size_average=False, win_size=window)
    return {
        "l1_rel_pct": l1_rel.cpu().numpy(),
        "mae_pct": mae.cpu().numpy(),
        "psnr": psnr.cpu().numpy(),
        "ssim": ssim_values.double().cpu().numpy(),
        "msssim_pct": (msssim_values.double() * 100).cpu().numpy(),
    }
