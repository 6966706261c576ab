"""Reading the authors' released files: onto the CPU, tensors only, one clear error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.method import ReleaseError


def read_with(reader: Callable[[Path], Any], path: Path, kind: str) -> Any:
    """`reader(path)`; a missing, truncated or foreign file raises one ReleaseError line."""
    try:
        return reader(Path(path))
    except FileNotFoundError:
        raise ReleaseError(f"{path}: released weights not found") from None
    except Exception as error:  # the reader's own reason, first sentence only
        reason = (str(error).splitlines() or [type(error).__name__])[0].split(". ")[0]
        raise ReleaseError(f"{path}: not a readable {kind} file ({reason})") from None


def read_torch_file(path: Path) -> Any:
    """torch.load onto the CPU (so tensors saved on CUDA load without CUDA), tensors only."""
    return read_with(lambda p: torch.load(p, map_location="cpu", weights_only=True), path, "torch")
