"""Plain data (YAML's, JSON's) into a frozen dataclass, every key and value checked.

`build(cls, raw, path, error)` is the one checker behind the run config (bench.config) and the
run manifest (bench.records.manifest). An unknown key is refused with the closest known one, a
missing required key by name, a bad value with its dotted key, the value and what it must be;
each as `error(message)`. The annotations say what a field takes: dataclass sections, `X | None`,
`Literal[...]`, `tuple` (with `metadata["choices"]`), `list[X]`, `dict`, bool, int (with an
optional `metadata["min"]`), str (non-empty unless `metadata["empty"]`) and `Any`.

`check_name` is the one rule for a name that becomes a path (a run id): one path component of
safe characters, so that no name can escape or nest inside the folder it is meant for.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from typing import Any, Literal


def build(cls: type, raw: Any, path: str, error: type[Exception]) -> Any:
    """An instance of dataclass `cls` from the mapping `raw` found at dotted `path`."""
    if not isinstance(raw, dict):
        raise error(f"{path or 'top level'}: expected a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(fields)}"
            raise error(f"{_join(path, key)}: unknown key{hint}")
    for name, item in fields.items():
        required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        if required and name not in raw:
            raise error(f"{_join(path, name)}: missing")
    return cls(**{name: _convert(hints[name], raw[name], _join(path, name), fields[name].metadata, error)
                  for name in fields if name in raw})


def _convert(kind: Any, value: Any, path: str, metadata: typing.Mapping[str, Any],
             error: type[Exception]) -> Any:
    if dataclasses.is_dataclass(kind):
        return build(kind, {} if value is None else value, path, error)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, path, metadata, error)
    if origin is Literal:
        if value not in args:
            raise error(f"{path}: bad value {value!r}; expected {' | '.join(map(str, args))}")
        return value
    if origin is tuple:
        choices = metadata["choices"]
        if not isinstance(value, list | tuple) or not value or any(v not in choices for v in value):
            raise error(f"{path}: bad value {value!r}; expected a list of {', '.join(choices)}")
        return tuple(value)
    if origin is list:
        if not isinstance(value, list):
            raise error(f"{path}: bad value {value!r}; expected a list")
        return [_convert(args[0], v, f"{path}[{i}]", metadata, error) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise error(f"{path}: bad value {value!r}; expected a mapping")
        return dict(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise error(f"{path}: bad value {value!r}; expected true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise error(f"{path}: bad value {value!r}; expected an integer")
        if value < metadata.get("min", value):
            raise error(f"{path}: bad value {value!r}; must be at least {metadata['min']}")
        return value
    if kind is str:
        if not isinstance(value, str) or not (value or metadata.get("empty")):
            raise error(f"{path}: bad value {value!r}; expected a non-empty string")
        return value
    raise TypeError(f"{path}: unsupported field type {kind!r}")


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def check_name(value: str, what: str, error: type[Exception]) -> str:
    """`value` if it is one path component of safe characters (a letter or digit, then letters,
    digits and . _ + -, at most 128); else `error` naming `what` and the value."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise error(f"{what}: {value!r} is not a usable name: one path component of letters, "
                    "digits and . _ + - (starting with a letter or digit, at most 128 characters)")
    return value
