"""GLCIC's released completion networks (satoshiiizuka/siggraph2017_inpainting), Torch7 files.

Each .t7 holds {model = nn.Sequential, mean = 3 numbers}. The Sequential is flat: for each of the
16 hidden layers of `COMPLETION_LAYERS` a SpatialConvolution (SpatialDilatedConvolution where
dilated, SpatialFullConvolution for the two up-convolutions), a SpatialBatchNormalization and a
ReLU; then a SpatialConvolution to 3 channels and a Sigmoid (the layer order the public
converters yangwangx/inpainting_glcic_pytorch and akmtn/pytorch-siggraph2017-inpainting read).
That is our CompletionNetwork's order (conv -> BN -> ReLU), so every tensor lands by position;
each layer's geometry (channels, kernel, stride, padding, dilation, adjustment, BN eps) is checked
against ours. Read with torchfile (long_size 8: its native 'l').

Their inference (inpaint.lua): image in [0, 1] minus `mean`, holes set to 0, the mask as a 4th
channel, sides rounded to multiples of 4, mask thresholded at 0.2, output in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchfile
from torch import nn

from baselines.glcic.networks import COMPLETION_LAYERS
from baselines.release_io import read_with
from bench.method import OfficialTensor, OfficialWeights, Release, ReleaseError

FORMAT = "glcic-torch7"
DOWNLOAD = "https://github.com/satoshiiizuka/siggraph2017_inpainting (download_model.sh)"
# download_model.sh fetches each from http://iizuka.cs.tsukuba.ac.jp/data/<file>.
RELEASES = (
    Release("glcic-places2", "places2", ("completionnet_places2.t7",), DOWNLOAD),
    Release("glcic-places2-freeform", "places2", ("completionnet_places2_freeform.t7",), DOWNLOAD),
    Release("glcic-celeba", "celeba", ("completionnet_celeba.t7",), DOWNLOAD),
)
DEPARTURES = [
    "released weights: the image is resized whole to the run's size (the harness's protocol), "
    "not scaled to a 600-px long edge and rounded to multiples of 4 as inpaint.lua (the run's "
    "size is a multiple of 4, so the rounding itself is a no-op).",
    "released weights: masks arrive binary from the harness; inpaint.lua thresholds its "
    "resized mask at 0.2.",
]
MEAN = "mean"


def _class(module: Any) -> str:
    name = module.torch_typename() if isinstance(module, torchfile.TorchObject) else type(module).__name__
    return name.decode() if isinstance(name, bytes) else str(name)


def expected_layers() -> list[tuple[str, dict[str, Any], str | None]]:
    """(Torch7 class, fields it must have, our module name) of each layer of the release."""
    layers: list[tuple[str, dict[str, Any], str | None]] = []
    channels = 4
    for index, (kind, out, kernel, stride, dilation) in enumerate(COMPLETION_LAYERS, start=1):
        geometry = {"nInputPlane": channels, "nOutputPlane": out, "kW": kernel, "kH": kernel,
                    "dW": stride, "dH": stride}
        if kind == "deconv":
            layers.append(("nn.SpatialFullConvolution",
                           {**geometry, "padW": 1, "padH": 1, "adjW": 0, "adjH": 0}, f"deconv{index}"))
        else:
            padding = dilation * (kernel - 1) // 2
            geometry.update(padW=padding, padH=padding)
            if dilation == 1:
                layers.append(("nn.SpatialConvolution", geometry, f"conv{index}"))
            else:
                layers.append(("nn.SpatialDilatedConvolution",
                               {**geometry, "dilationW": dilation, "dilationH": dilation}, f"conv{index}"))
        layers.append(("nn.SpatialBatchNormalization", {"eps": 1e-5}, f"bn{index}"))
        layers.append(("nn.ReLU", {}, None))
        channels = out
    layers.append(("nn.SpatialConvolution", {"nInputPlane": channels, "nOutputPlane": 3, "kW": 3,
                   "kH": 3, "dW": 1, "dH": 1, "padW": 1, "padH": 1}, "conv17"))
    layers.append(("nn.Sigmoid", {}, None))
    return layers


def _field(module: Any, key: str) -> Any:
    return module[key.encode()]


def read_release(path: Path, network: str, ours: nn.Module) -> OfficialWeights:
    """Every tensor of a released .t7 mapped onto CompletionNetwork `ours` (network `network`),
    with the file's mean colour in `settings["mean"]`."""
    path = Path(path)
    if path.is_dir():
        raise ReleaseError(f"{path}: a GLCIC release is one .t7 file, not a folder")
    data = read_with(lambda p: torchfile.load(str(p)), path, "Torch7")
    model = data.get(b"model") if isinstance(data, dict) else None
    if model is None or _class(model) != "nn.Sequential" or not isinstance(_field(model, "modules"), list):
        raise ReleaseError(f"{path}: not a GLCIC completion network (no {{model = nn.Sequential, "
                           "mean}} table)")
    try:
        mean = np.asarray(data.get(b"mean"), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        mean = np.zeros(0)
    if mean.shape != (3,) or not np.isfinite(mean).all():
        raise ReleaseError(f"{path}: mean must be 3 numbers, got {data.get(b'mean')!r}")
    modules, layers = _field(model, "modules"), expected_layers()
    for index, (module, (kind, fields, _)) in enumerate(zip(modules, layers), start=1):
        where = f"{path}: model.modules[{index}]"
        if _class(module) != kind:
            raise ReleaseError(f"{where} is {_class(module)}; our network has {kind} there")
        for key, want in fields.items():
            got = _field(module, key)
            if got is None or not np.isclose(got, want):
                raise ReleaseError(f"{where} ({kind}) has {key} = {got}; ours is {want}")
    if len(modules) != len(layers):
        missing = layers[len(modules)][0] if len(modules) < len(layers) else _class(modules[len(layers)])
        raise ReleaseError(f"{path}: model has {len(modules)} modules, ours {len(layers)} (first "
                           f"{'missing' if len(modules) < len(layers) else 'unexpected'}: {missing})")
    tensors = []
    state = ours.state_dict()
    for index, (module, (kind, _, name)) in enumerate(zip(modules, layers), start=1):
        if name is None:
            continue
        keys = ("weight", "bias", "running_mean", "running_var") if "Batch" in kind else ("weight", "bias")
        for key in keys:
            value = _field(module, key)
            source = f"model.modules[{index}].{key}"
            if not isinstance(value, np.ndarray):
                raise ReleaseError(f"{path}: {source} is missing ({kind})")
            tensors.append(OfficialTensor(path, source, network, f"{name}.{key}",
                                          torch.from_numpy(np.array(value, dtype=np.float32))))
        if "Batch" in kind:  # torch's own counter, which Torch7 does not keep; unused in eval
            tensors.append(OfficialTensor(path, "(torch's BN batch counter: 0)", network,
                                          f"{name}.num_batches_tracked",
                                          torch.zeros_like(state[f"{name}.num_batches_tracked"])))
    return OfficialWeights(FORMAT, (path,), tuple(tensors), {MEAN: tuple(float(m) for m in mean)})


def official_input(known: torch.Tensor, masks: torch.Tensor, mean: tuple[float, float, float]) -> torch.Tensor:
    """inpaint.lua's network input: RGB in [0, 1] minus `mean`, holes 0, then the mask (1 = hole)."""
    # departure: released weights: the image is resized whole to the run's size (the harness's protocol), not scaled to a 600-px long edge and rounded to multiples of 4 as inpaint.lua (the run's size is a multiple of 4, so the rounding itself is a no-op).
    # departure: released weights: masks arrive binary from the harness; inpaint.lua thresholds its resized mask at 0.2.
    shifted = known - torch.tensor(mean, dtype=known.dtype, device=known.device).view(1, 3, 1, 1)
    return torch.cat([torch.where(masks > 0.5, torch.zeros_like(shifted), shifted), masks], dim=1)
