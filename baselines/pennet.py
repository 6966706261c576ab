"""PEN-Net (Zeng et al., CVPR 2019), official PyTorch branch, assembled from models/.

PEN-Net is SRPNet's generator without residual blocks, with PEN-Net's spectral-norm patch
critic and its per-dataset settings (GAN type, LR schedule): so it is built as that variant of
`SRPNetMethod`, and the ablation's "baseline" row is literally this network. The authors' released
generator checkpoints load by their own parameter names (`load_official_generator`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.method import Method, MethodSpec, OptionError, take_options
from models.generator import PyramidContextGenerator
from models.schedule import settings_for
from models.srpnet import SRPNetMethod

DEFAULTS: dict[str, Any] = {
    "official_generator": None,  # path to a released gen_*.pth, loaded after construction
}
# The official trainer saves {"netG": state_dict} (core/trainer.py `save`).
CHECKPOINT_KEY = "netG"
WRAPPER_PREFIX = "module."  # what nn.DataParallel / DDP put before every name


def official_state_dict(checkpoint: dict[str, Any], source: str) -> dict[str, torch.Tensor]:
    """The generator state dict inside an official checkpoint (wrapped or bare)."""
    state = checkpoint.get(CHECKPOINT_KEY, checkpoint)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{source}: not a PEN-Net generator checkpoint (no tensor state dict)")
    return {
        name[len(WRAPPER_PREFIX):] if name.startswith(WRAPPER_PREFIX) else name: tensor
        for name, tensor in state.items()
    }


def load_official_generator(generator: PyramidContextGenerator, path: str | Path) -> None:
    """Load the authors' released generator weights (e.g. gen_00030.pth) into `generator`.

    Accepts the official `{"netG": state_dict}` file or a bare state dict; names must match
    exactly (strict), so a wrong or partial file fails with torch's list of mismatched keys.
    """
    checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    generator.load_state_dict(official_state_dict(checkpoint, str(path)), strict=True)


def build(spec: MethodSpec) -> Method:
    """The registry's factory for `pennet`: the faithful PEN-Net with its dataset's settings."""
    options = take_options("pennet", spec.options, DEFAULTS)
    method = SRPNetMethod(
        spec,
        residual_blocks=False,
        discriminator="patch",
        gan_type=settings_for(spec.dataset).gan_type,
        lr=1e-4,
        betas=(0.5, 0.999),
    )
    if options["official_generator"] is not None:
        path = Path(options["official_generator"])
        if not path.is_file():
            raise OptionError(f"pennet: official_generator {str(path)!r} is not a file")
        load_official_generator(method.generator, path)
    return method
