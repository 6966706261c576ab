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
    """A registered method. `colour`: its colour in every plot; `reference`: the paper's own
    method, which paired comparisons and claims measure against (exactly one entry);
    `in_paper_tables`: a column of the paper's Tables 2–4 and A3–A5 under this very name;
    `ablation_row`: its row name in Table 5; `paper_equivalent`: the Table 2 column that is the
    same network (Table 5's baseline is PEN-Net); `training_free`: a reference method with nothing
    to train, which the harness evaluates without a training stage and the report labels so."""

    factory: str
    description: str
    colour: str
    options: dict[str, Any] = field(default_factory=dict)
    in_paper_tables: bool = False
    ablation_row: str | None = None
    paper_equivalent: str | None = None
    reference: bool = False
    training_free: bool = False


# In the paper's column order (tables and report follow it).
REGISTRY: dict[str, Entry] = {
    "picnet": Entry("baselines.picnet.method:build", "PIC-Net, pluralistic completion (Zheng et al. 2019)",
                    "#7b4fa6", in_paper_tables=True),
    "glcic": Entry("baselines.glcic.method:build", "GLCIC (Iizuka et al. 2017)", "#e07b00", in_paper_tables=True),
    "pennet": Entry("baselines.pennet:build", "PEN-Net (Zeng et al. 2019), official PyTorch branch",
                    "#1f6fb4", in_paper_tables=True),
    "srpnet-baseline": Entry(
        "models.srpnet:build",
        "Table 5 'baseline': SRPNet without residual blocks, with PEN-Net's patch discriminator",
        "#8c564b", {"residual_blocks": False, "discriminator": "patch"},
        ablation_row="baseline", paper_equivalent="pennet",
    ),
    "srpnet+discriminator": Entry(
        "models.srpnet:build",
        "Table 5 '+Discriminator': no residual blocks, global + local discriminators",
        "#c2448f", {"residual_blocks": False, "discriminator": "global_local"},
        ablation_row="+discriminator",
    ),
    "srpnet": Entry(
        "models.srpnet:build",
        "SRPNet: residual pyramid encoder, attention transfer, global + local discriminators",
        "#c62828", in_paper_tables=True, ablation_row="+residual_blocks", reference=True,
    ),
    # Training-free references (not in the paper): where the floor is.
    "telea": Entry("baselines.classical.method:build_telea", "OpenCV cv2.inpaint, Telea's fast marching (Telea 2004)",
                   "#2ca02c", training_free=True),
    "navier-stokes": Entry("baselines.classical.method:build_navier_stokes",
                           "OpenCV cv2.inpaint, Navier–Stokes (Bertalmio et al. 2001)", "#17becf", training_free=True),
    "biharmonic": Entry("baselines.classical.method:build_biharmonic",
                        "scikit-image biharmonic inpainting (Damelin & Hoang 2018)", "#bcbd22", training_free=True),
    "mean-fill": Entry("baselines.classical.method:build_mean_fill",
                       "the known pixels' mean colour per image (the trivial floor)", "#7f7f7f", training_free=True),
}
(REFERENCE,) = (n for n, e in REGISTRY.items() if e.reference)  # exactly one paper method
IN_PAPER_TABLES = tuple(n for n, e in REGISTRY.items() if e.in_paper_tables)
TRAINING_FREE = tuple(n for n, e in REGISTRY.items() if e.training_free)
ABLATION = {e.ablation_row: n for n, e in REGISTRY.items() if e.ablation_row}  # Table 5 row → name


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
