"""Attention transfer (PEN-Net's ATN, SRPNet's ATM), vectorised over the batch.

One step fills a shallow feature map from the deeper, already filled one: attention scores are
learned on the deep map (cosine similarity between its k×k patches, hole patches excluded) and
then used to paste 4×4 patches of the shallow map, which is twice the deep map's size. The
official code runs one sample at a time through conv2d / conv_transpose2d; here the same
computation is a few batched matrix products over unfolded patches:

    scores[q, l]  = <deep patch q, deep patch l / ‖deep patch l‖>      (l known, else 0)
    weights[q, l] = max(softmax_l(10 · scores[q, :]) · known[l], 1e-8)
    shallow'      = fold(Σ_l raw patch l · weights[q, l]) / 4

Two exact rewrites keep it fast. Hole patches all score exactly 0 and all weigh exactly 1e-8,
so they are never stored as columns: each softmax row counts them in its denominator, and they
add 1e-8 · (their raw patches' sum) to every position. And a custom autograd function keeps two
score-sized tensors for the backward pass (the probabilities and the weights) and does every other
step in place, since fresh allocations of these large tensors cost more on CPU than the
elementwise arithmetic on them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SOFTMAX_SCALE = 10.0
RATE = 2  # the shallow map is RATE× the deep map; raw patches are 2·RATE wide with stride RATE
ATTENTION_FLOOR = 1e-8  # every attention weight is clamped up to this
KEY_NORM_FLOOR = 1e-4  # key patches are divided by max(‖patch‖, this)
COLUMN_MULTIPLE = 64  # known-patch columns are padded to this multiple (BLAS runs faster)


def attendable_patches(mask: torch.Tensor, size: tuple[int, int], ksize: int) -> torch.Tensor:
    """B×L booleans: the deep-map patches that hold no hole pixel, the only ones attention reads.

    The full-resolution mask (1 = hole) is resized bilinearly with align_corners=True, as the
    official PyTorch code does, and a patch counts as known when its k×k mean is exactly zero.
    """
    small = F.interpolate(mask, size=size, mode="bilinear", align_corners=True)
    patches = F.unfold(small, ksize, padding=ksize // 2)
    return patches.mean(dim=1) == 0


class _KnownPatchAttention(torch.autograd.Function):
    """cols = raw · max(P, floor)^T, P = softmax over [query^T keys, `hidden` zero scores].

    query B×D×L, keys B×D×K (scaled by 10, zero columns for padding), raw B×P×K (zero columns
    for padding), hidden: how many further zero-score columns each softmax row has. Returns
    B×P×L. The gradient of the floor is taken as 0 at exactly the floor. The backward pass
    reuses the saved weights as scratch space, so it can run only once per forward.
    """

    @staticmethod
    def forward(ctx, query, keys, raw, hidden: int):
        scores = torch.bmm(query.transpose(1, 2), keys)  # B×L×K, turned into P in place
        if hidden:
            peak = scores.amax(dim=-1, keepdim=True)
        probs = torch.softmax(scores, dim=-1, out=scores)
        if hidden:
            # Put the hidden columns' hidden·exp(0) into each row's denominator: with
            # s = log Σ exp(row) = peak − log max P, P ← P · sigmoid(s − log hidden).
            row_logsumexp = peak.sub_(probs.amax(dim=-1, keepdim=True).log_())
            probs.mul_(row_logsumexp.sub_(math.log(hidden)).sigmoid_())
        if not any(ctx.needs_input_grad):  # inference: P itself is not needed afterwards
            return torch.bmm(raw, probs.clamp_(min=ATTENTION_FLOOR).transpose(1, 2))
        weights = probs.clamp(min=ATTENTION_FLOOR)
        ctx.save_for_backward(query, keys, raw, probs, weights)
        ctx.spent = False
        return torch.bmm(raw, weights.transpose(1, 2))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_cols):
        if ctx.spent:
            raise RuntimeError("attention_transfer cannot backpropagate twice (retain_graph)")
        ctx.spent = True
        query, keys, raw, probs, weights = ctx.saved_tensors
        grad_raw = torch.bmm(grad_cols, weights)
        # Where the floor binds the weight is constant: keep P only where it is above the floor.
        passing = F.threshold_(weights, ATTENTION_FLOOR, 0.0)
        grad = torch.bmm(grad_cols.transpose(1, 2), raw).mul_(passing)  # P ⊙ dL/dP
        del passing
        # Softmax backward in place: dL/dz = P ⊙ dL/dP − P · Σ(P ⊙ dL/dP); hidden columns add
        # nothing to the sum (their weight is the constant floor).
        grad.addcmul_(probs, grad.sum(dim=-1, keepdim=True), value=-1.0)
        grad_query = torch.bmm(keys, grad.transpose(1, 2))
        grad_keys = torch.bmm(query, grad)
        return grad_query, grad_keys, grad_raw, None


def attention_transfer(
    shallow: torch.Tensor, deep: torch.Tensor, mask: torch.Tensor, ksize: int = 3
) -> torch.Tensor:
    """Rebuild `shallow` (B×C×H×W) from its own patches, weighted by attention learned on `deep`.

    `deep` is B×C'×H/2×W/2 (already filled), `mask` the full-resolution B×1 hole mask. The result
    replaces the whole shallow map, known positions included, as in the official code.

    It runs in float32 at least, autocast or not (lower-precision inputs are cast up, and so is
    the result): in bfloat16 the softmax's logits (10 × scores) would be off by tenths,
    reshaping the attention the official float32 code computes.
    """
    dtype = torch.promote_types(shallow.dtype, torch.float32)
    with torch.autocast(shallow.device.type, enabled=False):
        return _attention_transfer(shallow.to(dtype), deep.to(dtype), mask.to(dtype), ksize)


def _attention_transfer(
    shallow: torch.Tensor, deep: torch.Tensor, mask: torch.Tensor, ksize: int
) -> torch.Tensor:
    if ksize not in (1, 3):
        raise ValueError(f"attention ksize must be 1 or 3, got {ksize}")
    height, width = deep.shape[-2:]
    if tuple(shallow.shape[-2:]) != (RATE * height, RATE * width):
        raise ValueError(
            f"shallow map {tuple(shallow.shape)} must be {RATE}x the deep map {tuple(deep.shape)}"
        )
    # departure: equations 2–4 normalise both patches, apply no softmax scale and fill only the hole patches; as PEN-Net's code (which SRPNet builds on), we normalise only the key patches, scale the scores by 10 before the softmax and rebuild the whole shallow map, known positions included.
    known = attendable_patches(mask, (height, width), ksize)  # B×L
    query = F.unfold(deep, ksize, padding=ksize // 2)  # B×(C'k²)×L
    # sqrt(Σ x²) rather than Tensor.norm, whose float32 sum over this strided axis is less exact.
    keys = query / query.square().sum(dim=1, keepdim=True).sqrt().clamp(min=KEY_NORM_FLOOR)
    patch = 2 * RATE
    raw = F.unfold(shallow, patch, stride=RATE, padding=1)  # B×(C·16)×L, one per deep position

    # Columns: every sample's known patches first (original order), padded with hole patches to
    # the batch's largest count rounded up to COLUMN_MULTIPLE (at most all positions); padding
    # columns get zero keys (score 0, as any hole patch) and zero raw patches.
    positions = known.shape[1]
    needed = max(int(known.sum(dim=1).max()), 1)
    columns = min(positions, math.ceil(needed / COLUMN_MULTIPLE) * COLUMN_MULTIPLE)
    order = torch.argsort((~known).to(torch.uint8), dim=1, stable=True)[:, :columns]
    selected = known.gather(1, order).to(deep.dtype).unsqueeze(1)  # B×1×K
    keys = keys.gather(2, order.unsqueeze(1).expand(-1, keys.shape[1], -1)) * (
        SOFTMAX_SCALE * selected
    )
    raw_known = raw.gather(2, order.unsqueeze(1).expand(-1, raw.shape[1], -1)) * selected
    cols = _KnownPatchAttention.apply(query, keys, raw_known, positions - columns)
    # Every hole patch weighs exactly the floor at every position.
    holes = (~known).to(deep.dtype).unsqueeze(2)  # B×L×1
    cols = cols + ATTENTION_FLOOR * torch.bmm(raw, holes)
    # Transposed-convolution pasting of the weighted patches, averaged over their 2×2 overlap.
    return F.fold(cols, tuple(shallow.shape[-2:]), patch, stride=RATE, padding=1) / RATE**2


class AttentionTransfer(nn.Module):
    """One ATN: attention transfer, then (optionally) four parallel dilated 3×3 convs + ReLU.

    The fusion convs are named conv00..conv03 (each a Sequential(conv, ReLU)), as in the official
    checkpoints; each gives channels/4 with dilation 1, 2, 4, 8 and the results are concatenated.
    """

    def __init__(self, channels: int, ksize: int = 3, fuse: bool = True,
                 rates: tuple[int, ...] = (1, 2, 4, 8)) -> None:
        super().__init__()
        self.ksize = ksize
        self.branches = len(rates) if fuse else 0
        for index, rate in enumerate(rates[: self.branches]):
            conv = nn.Conv2d(channels, channels // len(rates), 3, padding=rate, dilation=rate)
            self.add_module(f"conv{index:02d}", nn.Sequential(conv, nn.ReLU(inplace=True)))

    def forward(
        self, shallow: torch.Tensor, deep: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        filled = attention_transfer(shallow, deep, mask, self.ksize)
        if not self.branches:
            return filled
        branches = [getattr(self, f"conv{index:02d}")(filled) for index in range(self.branches)]
        return torch.cat(branches, dim=1)
