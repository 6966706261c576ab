"""What a training-step fixture records, defined once for its recorder and its tests.

A fixture holds the inputs, a per-tensor seed recipe for the initial weights (numpy's legacy
RandomState, so the same weights are rebuilt anywhere), and for each network tensor what the
official iteration left: digests (sum, L1, L2, largest magnitude) of its gradient, of its Adam
moments and of its update, plus sampled elements, and small tensors whole.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
import torch

# The long training-step cases (minutes on 2 cores) run only when asked: docs/tests.md.
SLOW_PARITY = pytest.mark.skipif(os.environ.get("INPAINT_BENCH_SLOW_PARITY") != "1",
                                 reason="slow training-step parity case: set INPAINT_BENCH_SLOW_PARITY=1")
SAMPLES = 12  # elements sampled per tensor
WHOLE = 64  # tensors up to this many elements are kept whole


def recipe_tensor(seed: int, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """The initial value of tensor `key` ("net.name"), float64, from its own RandomState.

    Spectral-norm vectors (`_u`, `_v`) are unit normals (not converged, so the power step is
    exercised); biases 0.01 N; attention gains 0.1 N; 1-d weights (instance norm) 1 + 0.1 N;
    other weights N / sqrt(fan_in).
    """
    rs = np.random.RandomState((zlib.crc32(key.encode()) ^ seed) & 0xFFFFFFFF)
    z = rs.standard_normal(int(np.prod(shape)) if shape else 1)
    name = key.rsplit(".", 1)[-1]
    if name in ("weight_u", "weight_v"):
        z = z / np.sqrt((z * z).sum())
    elif name == "bias":
        z = 0.01 * z
    elif name in ("gamma", "alpha"):
        z = 0.1 * z
    elif len(shape) == 1:
        z = 1.0 + 0.1 * z
    else:
        z = z / np.sqrt(np.prod(shape[1:]))
    return z.reshape(shape)


def digest(t: torch.Tensor) -> list[float]:
    """sum, L1, L2 and largest magnitude of a tensor (plain floats: a fixture of many small
    records stays small, where one stored tensor each would cost a zip entry)."""
    d = t.detach().double()
    return [d.sum().item(), d.abs().sum().item(), d.square().sum().sqrt().item(), d.abs().max().item()]


def sample_index(key: str, numel: int) -> torch.Tensor:
    """The flat indices recorded for tensor `key`: all of a small one, else SAMPLES seeded ones."""
    if numel <= WHOLE:
        return torch.arange(numel)
    rs = np.random.RandomState(zlib.crc32(key.encode()))
    return torch.from_numpy(np.sort(rs.choice(numel, SAMPLES, replace=False)))


def record(key: str, t: torch.Tensor) -> dict[str, list[float]]:
    """Digest and sampled elements of `t` (the `key`'s recorded indices)."""
    flat = t.detach().double().flatten()
    return {"digest": digest(t), "vals": flat[sample_index(key, flat.numel())].tolist()}
