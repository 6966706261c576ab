"""PIC-Net's released weights (lyndonzheng/Pluralistic-Inpainting): latest_net_E.pth + latest_net_G.pth.

The authors' `save_networks` saves `net.state_dict()` of the DataParallel-wrapped nets, so every
key starts with `module.`; their SpectralNorm wrapper (model/external_function.py) keeps a conv's
weight as `….module.weight_bar` with power-iteration vectors `weight_u`, `weight_v`, and their
blocks register each conv a second time inside nn.Sequential containers (`model.N`,
`shortcut.N`), which torch.save stores once: those names alias a tensor already mapped.
Which file is E and which is G is read from its keys, not its name.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from baselines.picnet.networks import is_spectral_normed, official_name, power_step
from baselines.release_io import read_torch_file
from bench.method import OfficialTensor, OfficialWeights, Release, ReleaseError

FORMAT = "picnet-E+G"
POWER_STEP_DEPARTURE = ("released weights: one spectral-norm power step at load (the official "
                        "forward's), then u, v fixed at test time.")
WRAPPER_PREFIX = "module."
RELEASED_NETWORKS = ("E", "G")
DOWNLOAD = "https://github.com/lyndonzheng/Pluralistic-Inpainting#pretrained-models"
FILES = ("latest_net_E.pth", "latest_net_G.pth")
# README "Pretrained Models": one Google Drive folder per dataset and mask type.
RELEASES = tuple(
    Release(f"picnet-{dataset}-{masks}", dataset, FILES, f"{DOWNLOAD} ({link})")
    for dataset, masks, link in (
        ("celeba-hq", "center", "https://drive.google.com/open?id=1zQnFkRAtjGCorOd0Mj9tfdApcAPbs6Kw"),
        ("paris", "center", "https://drive.google.com/open?id=1s4zmYhJAdkRErivj3OuTPeQ5ECQtq35e"),
        ("places2", "center", "https://drive.google.com/open?id=1y8wE8wcIq8EMRzjgOE3Y_Bv4iPLW4RV3"),
        ("imagenet", "center", "https://drive.google.com/open?id=1iH60vWygjk2Gc9iyVAva45vz3meSeZPg"),
        ("celeba-hq", "random", "https://drive.google.com/open?id=1nLq-W7eAZErqsvB1Q8h1yQT_l7_kZBXT"),
        ("paris", "random", "https://drive.google.com/open?id=1D67Y1AtsMy_opysxtt06D7vZrDUKvDAm"),
        ("places2", "random", "https://drive.google.com/open?id=1L4NAHQqyEJ_ANt4SfEP1hdEVdGrteu4L"),
        ("imagenet", "random", "https://drive.google.com/open?id=1hS6D4gjOkvEOlAEOAKxCCzjhpCoddU2S"),
    )
)


def _identity(tensor: torch.Tensor) -> tuple[int, int, tuple[int, ...]]:
    return tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape)


def read_file(path: Path, networks: dict[str, nn.Module]) -> tuple[str, list[OfficialTensor]]:
    """One released file's tensors, mapped onto E or G (whichever its names are)."""
    state = read_torch_file(path)
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise ReleaseError(f"{path}: not a PIC-Net network file (no tensor state dict)")
    renamed = {key: official_name(key.removeprefix(WRAPPER_PREFIX)) for key in state}
    mapped = {ours for ours in renamed.values() if ours is not None}
    overlap = {name: len(mapped & set(networks[name].state_dict())) for name in RELEASED_NETWORKS}
    network = max(overlap, key=overlap.get)
    if not overlap[network]:
        raise ReleaseError(f"{path}: not a PIC-Net E or G file (none of its {len(state)} names "
                           "is one of theirs)")
    primaries = {_identity(state[key]) for key, ours in renamed.items() if ours is not None}
    tensors = []
    for key, ours in renamed.items():
        if ours is None:  # the authors' second registration of a conv: must alias a mapped one
            if _identity(state[key]) not in primaries:
                raise ReleaseError(f"{path}: unexpected {key} {tuple(state[key].shape)} (a second "
                                   "registration that holds its own tensor)")
            continue
        tensors.append(OfficialTensor(Path(path), key, network, ours, state[key]))
    return network, tensors


def read_release(path: Path, networks: dict[str, nn.Module]) -> OfficialWeights:
    """The release folder (its FILES) or one file; E and G must both be there."""
    path = Path(path)
    files = tuple(path / name for name in FILES) if path.is_dir() else (path,)
    found: dict[str, Path] = {}
    tensors: list[OfficialTensor] = []
    for file in files:
        network, read = read_file(file, networks)
        if network in found:
            raise ReleaseError(f"{file}: holds PIC-Net's {network}, as {found[network]} does")
        found[network] = file
        tensors += read
    if len(found) < len(RELEASED_NETWORKS):
        raise ReleaseError(f"{path}: holds PIC-Net's {', '.join(found)} only; a release is E + G "
                           f"(pass the folder holding {' and '.join(FILES)})")
    return OfficialWeights(FORMAT, files, tuple(tensors))


@torch.no_grad()
def official_power_step(networks: dict[str, nn.Module]) -> None:
    """One power iteration of every spectral-normed conv, as the authors' SpectralNorm takes at
    each forward (v = Wᵀu/(|Wᵀu|+1e-12), then u = Wv/(|Wv|+1e-12)); afterwards u, v stay fixed
    in eval mode, where the official keeps stepping at every forward."""
    for net in networks.values():
        for module in net.modules():
            if is_spectral_normed(module):
                power_step(module)
