"""A small Torch7 binary writer for tests: files as Lua Torch's `torch.save` writes them
(binary, native little-endian, long_size 8), for the subset GLCIC's releases use: nil, numbers,
booleans, strings, tables, Float/Double tensors with their storages, and nn modules (a torch
class whose content is its field table). Read back with torchfile, as the loader does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

NIL, NUMBER, STRING, TABLE, TORCH, BOOLEAN = 0, 1, 2, 3, 4, 5
TENSOR_CLASS = {np.dtype(np.float32): "torch.FloatTensor", np.dtype(np.float64): "torch.DoubleTensor"}


@dataclass
class Module:
    """A Torch7 object: class name (e.g. "nn.SpatialConvolution") and its fields."""

    typename: str
    fields: dict[str, Any] = field(default_factory=dict)


class Writer:
    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.next_index = handle, 1

    def _int(self, value: int) -> None:
        self.handle.write(struct.pack("<i", value))

    def _long(self, value: int) -> None:
        self.handle.write(struct.pack("<q", value))

    def _string(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self._int(len(data))
        self.handle.write(data)

    def _reference(self, kind: int) -> None:
        self._int(kind)
        self._int(self.next_index)
        self.next_index += 1

    def _class(self, name: str) -> None:
        self._reference(TORCH)
        self._string("V 1")
        self._string(name)

    def write(self, value: Any) -> None:
        if value is None:
            self._int(NIL)
        elif isinstance(value, bool):
            self._int(BOOLEAN)
            self._int(int(value))
        elif isinstance(value, (int, float)):
            self._int(NUMBER)
            self.handle.write(struct.pack("<d", float(value)))
        elif isinstance(value, (str, bytes)):
            self._int(STRING)
            self._string(value)
        elif isinstance(value, np.ndarray):
            self._tensor(value)
        elif isinstance(value, Module):
            self._class(value.typename)
            self.write(value.fields)
        elif isinstance(value, (list, tuple)):
            self.write({k + 1: v for k, v in enumerate(value)})  # a Lua array is a table 1..n
        elif isinstance(value, dict):
            self._reference(TABLE)
            self._int(len(value))
            for key, item in value.items():
                self.write(key)
                self.write(item)
        else:
            raise TypeError(f"cannot write {type(value).__name__} as Torch7")

    def _tensor(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        name = TENSOR_CLASS[array.dtype]
        self._class(name)
        self._int(array.ndim)
        for size in array.shape:
            self._long(size)
        for stride in (s // array.itemsize for s in array.strides):
            self._long(stride)
        self._long(1)  # storage offset, 1-based
        self._class(name.replace("Tensor", "Storage"))
        self._long(array.size)
        self.handle.write(array.tobytes())


def save(path: Path, value: Any) -> Path:
    with Path(path).open("wb") as handle:
        Writer(handle).write(value)
    return Path(path)
