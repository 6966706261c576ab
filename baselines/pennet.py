"""PEN-Net (Zeng et al., CVPR 2019), official PyTorch branch, assembled from models/.

PEN-Net is SRPNet's generator without residual blocks, with PEN-Net's spectral-norm patch
critic and its per-dataset settings (GAN type, LR schedule): so it is built as that variant of
`SRPNetMethod`, and the ablation's "baseline" row is the same network. The authors' four released
generators (`{"netG": state_dict}`, bare or `module.`-prefixed) load by their own parameter names
through `load_official` (the Method contract).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from baselines.release_io import read_torch_file
from bench.method import (CheckedOptions, Method, MethodSpec, OfficialTensor, OfficialWeights, Release,
                          ReleaseError)
from models.schedule import settings_for
from models.srpnet import SRPNetMethod

# A recipe may set these (the learn profile does); any other value than PEN-Net's is a departure
# that the method states (SRPNetMethod.departures).
DEFAULTS: dict[str, Any] = {"lr": 1e-4, "adversarial_weight": 0.1, "pyramid_weight": 0.5}
# The official trainer saves {"netG": state_dict} (core/trainer.py `save`) as gen_<epoch>.pth.
CHECKPOINT_KEY = "netG"
WRAPPER_PREFIX = "module."  # what nn.DataParallel / DDP put before every name
FORMAT = "pennet-netG"
DOWNLOAD = "https://github.com/researchmm/PEN-Net-for-Inpainting/tree/pytorch#pretrained-models"
# README "Pretrained models" (branch pytorch): one Google Drive folder per dataset; the file is the
# trainer's gen_<epoch>.pth, whose epoch the README does not give, hence the pattern.
RELEASES = tuple(
    Release(f"pennet-{dataset}", dataset, ("gen_*.pth",), f"{DOWNLOAD} ({link})")
    for dataset, link in (
        ("celeba-hq", "https://drive.google.com/open?id=1Xf_LwP38PLL78817nXfpsHsLuCNWoPX9"),
        ("dtd", "https://drive.google.com/open?id=1OCrML2j6apv44-TxJvpOLOzavJmxZtJr"),
        ("facade", "https://drive.google.com/open?id=1cTcEMIuii3jJfc5sstXxMQNyTVcV3I8K"),
        ("places2", "https://drive.google.com/open?id=1Hd8DUCJMGnCZz53_19zV4_p06YJ0UDt2"),
    )
)


def official_state_dict(checkpoint: Any, source: str) -> list[tuple[str, str, torch.Tensor]]:
    """The generator entries of an official checkpoint (`netG`-wrapped or bare) as (its name in
    the file, our name: the DataParallel prefix dropped, tensor)."""
    state = checkpoint.get(CHECKPOINT_KEY, checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise ReleaseError(f"{source}: not a PEN-Net generator checkpoint (no netG tensor state dict)")
    return [(name, name.removeprefix(WRAPPER_PREFIX), tensor) for name, tensor in state.items()]


class PENNet(SRPNetMethod):
    """SRPNet's plain-encoder, patch-critic variant, with the authors' released generators."""

    def releases(self) -> tuple[Release, ...]:
        return RELEASES

    def read_official(self, path: Path) -> OfficialWeights:
        """A released gen_*.pth: every netG entry lands on our generator under the same name."""
        if Path(path).is_dir():
            raise ReleaseError(f"{path}: a PEN-Net release is one file (gen_*.pth), not a folder")
        state = official_state_dict(read_torch_file(path), str(path))
        if not {ours for _, ours, _ in state} & set(self.generator.state_dict()):  # by its names
            raise ReleaseError(f"{path}: not a PEN-Net generator checkpoint "
                               f"(none of its {len(state)} names is a PEN-Net generator name)")
        return OfficialWeights(FORMAT, (Path(path),), tuple(
            OfficialTensor(Path(path), source, "generator", ours, tensor) for source, ours, tensor in state))


def build(spec: MethodSpec) -> Method:
    """The registry's factory for `pennet`: PEN-Net with its dataset's settings (faithful unless a
    recipe sets lr or a loss weight, which its departures() then state)."""
    checked = CheckedOptions("pennet", spec.options, DEFAULTS)
    return PENNet(
        spec,
        residual_blocks=False,
        discriminator="patch",
        gan_type=settings_for(spec.dataset).gan_type,
        lr=checked.number("lr", positive=True),
        betas=(0.5, 0.999),
        adversarial_weight=checked.number("adversarial_weight"),
        pyramid_weight=checked.number("pyramid_weight"),
    )
