"""Reading the authors' released PyTorch files: onto the CPU, tensors only, one clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.method import ReleaseError


def read_torch_file(path: Path) -> Any:
    """torch.load onto the CPU (so tensors saved on CUDA load without CUDA), tensors only."""
    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ReleaseError(f"{path}: released weights not found") from None
    except Exception as error:  # a truncated or foreign file: torch's own reason, on one line
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReleaseError(f"{path}: not a readable torch file ({reason})") from None
