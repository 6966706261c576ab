"""Released-weights files written the way the authors' code writes them, for the loader tests.

- `pennet_generator`: PEN-Net's trainer `torch.save({"netG": netG.state_dict()})`, optionally of
  a DataParallel-wrapped net (`module.` prefix).
- `picnet_network`: PIC-Net's `save_networks`: `torch.save(net.state_dict())` of the
  DataParallel-wrapped E or G under the official names (E.tsv / G.tsv), each second
  registration of a conv the same tensor as the first (torch.save stores it once).
- `glcic_t7`: a Torch7 {model = nn.Sequential, mean} completion network (tests/torch7_writer.py).
- `saved_as_if_on_cuda`: torch.save with every storage tagged "cuda:0", as a file saved from a
  GPU is; loading it without map_location fails on a CPU-only machine.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.serialization

from baselines.glcic.networks import COMPLETION_LAYERS
from tests import torch7_writer
from tests.parity import official_rows


@contextlib.contextmanager
def saved_as_if_on_cuda() -> Iterator[None]:
    original = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        yield
    finally:
        torch.serialization.location_tag = original


def random_tensors(rows: list[tuple[str, tuple[int, ...]]], seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=generator) for name, shape in rows}


def pennet_generator(path: Path, weights: dict[str, torch.Tensor], data_parallel: bool = False) -> Path:
    prefix = "module." if data_parallel else ""
    torch.save({"netG": {prefix + k: v for k, v in weights.items()}}, path)
    return path


# The official blocks' Sequential containers hold the same convs again (model/base_function.py):
# in each block, the first and second conv of `model` are conv1 and conv2, `shortcut`'s is bypass.
SECOND = re.compile(r"^(?P<block>.+)\.(?P<container>model|shortcut)\.(?P<index>\d+)\.module\.(?P<param>\w+)$")


def picnet_network(path: Path, tsv: str, seed: int) -> dict[str, torch.Tensor]:
    """Write one official network (the `tsv`'s names and shapes, seeded values) as save_networks
    does; return the state dict written (without the prefix), aliases included."""
    rows = official_rows(tsv)
    state = random_tensors([(n, s) for n, s in rows if not SECOND.match(n)], seed)
    convs: dict[str, list[str]] = {}  # block -> its model.<i> indices in order
    for name, _ in rows:
        found = SECOND.match(name)
        if not found:
            continue
        block = found["block"]
        if found["container"] == "shortcut":
            twin = "bypass"
        else:
            indices = convs.setdefault(block, [])
            if found["index"] not in indices:
                indices.append(found["index"])
            twin = ("conv1", "conv2")[indices.index(found["index"])]
        state[name] = state[f"{block}.{twin}.module.{found['param']}"]
    torch.save({f"module.{name}": state[name] for name, _ in rows}, path)
    return {name: state[name] for name, _ in rows}


def _conv_fields(kind: str, cin: int, cout: int, kernel: int, stride: int, padding: int,
                 weight: np.ndarray, bias: np.ndarray) -> dict:
    return {"nInputPlane": cin, "nOutputPlane": cout, "kW": kernel, "kH": kernel, "dW": stride,
            "dH": stride, "padW": padding, "padH": padding, "weight": weight, "bias": bias,
            "gradWeight": np.zeros_like(weight), "gradBias": np.zeros_like(bias),
            "output": np.zeros((0,), np.float32), "gradInput": np.zeros((0,), np.float32),
            "train": False}


def glcic_modules(seed: int, dtype=np.float32) -> list[torch7_writer.Module]:
    """The released completion network's flat Sequential, seeded weights (BN statistics too)."""
    rng = np.random.default_rng(seed)
    modules, cin = [], 4

    def randn(*shape):
        return (rng.standard_normal(shape) * 0.1).astype(dtype)

    for kind, cout, kernel, stride, dilation in COMPLETION_LAYERS:
        if kind == "deconv":
            fields = _conv_fields(kind, cin, cout, kernel, stride, 1, randn(cin, cout, kernel, kernel), randn(cout))
            modules.append(torch7_writer.Module("nn.SpatialFullConvolution", {**fields, "adjW": 0, "adjH": 0}))
        else:
            padding = dilation * (kernel - 1) // 2
            fields = _conv_fields(kind, cin, cout, kernel, stride, padding, randn(cout, cin, kernel, kernel), randn(cout))
            if dilation > 1:
                modules.append(torch7_writer.Module("nn.SpatialDilatedConvolution",
                                                    {**fields, "dilationW": dilation, "dilationH": dilation}))
            else:
                modules.append(torch7_writer.Module("nn.SpatialConvolution", fields))
        modules.append(torch7_writer.Module("nn.SpatialBatchNormalization", {
            "weight": (1 + randn(cout)).astype(dtype), "bias": randn(cout), "running_mean": randn(cout),
            "running_var": (0.5 + rng.random(cout)).astype(dtype), "eps": 1e-5, "momentum": 0.1,
            "affine": True, "train": False}))
        modules.append(torch7_writer.Module("nn.ReLU", {"inplace": True, "threshold": 0, "val": 0, "train": False}))
        cin = cout
    modules.append(torch7_writer.Module("nn.SpatialConvolution", _conv_fields(
        "conv", cin, 3, 3, 1, 1, randn(3, cin, 3, 3), randn(3))))
    modules.append(torch7_writer.Module("nn.Sigmoid", {"train": False}))
    return modules


def glcic_t7(path: Path, modules: list, mean=(0.4560, 0.4472, 0.4155)) -> Path:
    return torch7_writer.save(path, {"model": torch7_writer.Module(
        "nn.Sequential", {"modules": modules, "train": False}), "mean": list(mean)})
