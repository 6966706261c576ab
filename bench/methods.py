"""The method registry: the only place in the harness that names a model.

Each entry maps a name to a factory `build(spec: MethodSpec) -> Method`, given as
"module:function" so that importing the harness imports no model until one is asked for, and
to the options that make the variant (the ablation rows of Table 5 are SRPNet with switches).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any

from bench.method import Method, MethodSpec


@dataclass(frozen=True)
class Entry:
    factory: str
    description: str
    options: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, Entry] = {
    "srpnet": Entry(
        "models.srpnet:build",
        "SRPNet: residual pyramid encoder, attention transfer, global + local discriminators",
    ),
    "srpnet-baseline": Entry(
        "models.srpnet:build",
        "Table 5 'baseline': SRPNet without residual blocks, with PEN-Net's patch discriminator",
        {"residual_blocks": False, "discriminator": "patch"},
    ),
    "srpnet+discriminator": Entry(
        "models.srpnet:build",
        "Table 5 '+Discriminator': no residual blocks, global + local discriminators",
        {"residual_blocks": False, "discriminator": "global_local"},
    ),
    "pennet": Entry("baselines.pennet:build", "PEN-Net (Zeng et al. 2019), official PyTorch branch"),
    "glcic": Entry("baselines.glcic:build", "GLCIC (Iizuka et al. 2017)"),
    "picnet": Entry("baselines.picnet:build", "PIC-Net, pluralistic completion (Zheng et al. 2019)"),
}


class UnknownMethodError(KeyError):
    def __str__(self) -> str:
        return f"unknown method {self.args[0]!r}; known: {', '.join(sorted(REGISTRY))}"


def names() -> list[str]:
    return list(REGISTRY)


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownMethodError(name) from None


def create(name: str, spec: MethodSpec) -> Method:
    """Build method `name`; the entry's variant options sit under the spec's own options."""
    found = entry(name)
    module_name, function_name = found.factory.split(":")
    factory = getattr(importlib.import_module(module_name), function_name)
    method = factory(replace(spec, options={**found.options, **spec.options}))
    method.name = name
    return method
