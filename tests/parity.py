"""The official implementations' parity records, read from `shared/parity/` beside the checkout.

Outside this workplace that folder is absent: tests that need it are skipped with a reason
naming the missing file (`needs`), never silently. The `.tsv` files list `state_dict()` entries
in order as name and shape ("64x3x5x5").
"""

from __future__ import annotations

from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[1]
# `shared/` sits beside the checkout (/work/shared for /work/main), or inside it (a worktree's
# or the device machine's copy).
PARITY = next((p for p in (_ROOT / "shared" / "parity", _ROOT.parent / "shared" / "parity")
               if p.is_dir()), _ROOT.parent / "shared" / "parity")


def needs(*relative: str) -> pytest.MarkDecorator:
    """Skip the test, naming the file, unless every `relative` path under PARITY exists."""
    missing = [str(PARITY / r) for r in relative if not (PARITY / r).is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"parity record not found: {', '.join(missing)}")


def official_rows(relative: str) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of each entry of a parity `.tsv`, in the official order."""
    lines = (PARITY / relative).read_text().splitlines()[1:]
    return [(name, tuple(int(s) for s in shape.split("x") if s)) for name, shape in
            (line.split("\t") for line in lines if line)]  # a scalar's shape is empty


def shapes(module_state: dict) -> list[tuple[str, tuple[int, ...]]]:
    """The same (name, shape) list for one of our state dicts."""
    return [(name, tuple(tensor.shape)) for name, tensor in module_state.items()]
