"""The method registry: the only place in the harness that names a model.

Each entry maps a name to a factory `build(spec: MethodSpec) -> Method`, given as
"module:function" so that importing the harness imports no model until one is asked for, and
to the options that make the variant (the ablation rows of Table 5 are SRPNet with switches).

Other packages add methods through the entry-point group `inpaint_bench.methods` (`name =
"pkg.module:factory"`), read with importlib.metadata when this module is imported: each joins
the registry beside the built-ins with its package's name and version, and is imported only
when built. A plugin may not take a built-in's name; one that does, one whose module does not
import, whose factory raises or returns something that is not a Method is one line naming the
plugin and its package (`PLUGIN_PROBLEMS`, `PluginError`), and the built-ins keep working.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the registry stays a leaf: importing it loads neither torch nor a model
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
    package: str | None = None  # a plugin's distribution (None: built into inpaint-bench)
    version: str | None = None  # that distribution's version

    @property
    def origin(self) -> str:
        """The package the method comes from, with its version."""
        if self.package is None:
            return f"inpaint-bench {HARNESS_VERSION} (built in)"
        return f"{self.package} {self.version} (plugin)"
    training_free: bool = False  # evaluated as it is: no training stage, labelled a training-free reference


# In the paper's column order (tables and report follow it).
BUILTINS: dict[str, Entry] = {
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
(REFERENCE,) = (n for n, e in BUILTINS.items() if e.reference)  # exactly one paper method
IN_PAPER_TABLES = tuple(n for n, e in BUILTINS.items() if e.in_paper_tables)
ABLATION = {e.ablation_row: n for n, e in BUILTINS.items() if e.ablation_row}  # Table 5 row → name
TRAINING_FREE = tuple(n for n, e in BUILTINS.items() if e.training_free)
# The floor a trained method must beat in the learning checks (methods check, the learning probe):
# the trivial fill and the best classical one on the sample data (docs/learning.md).
FLOOR_REFERENCES = ("mean-fill", "telea")
# Ours, whose training step the device check times beside its authors' official code's.
OFFICIAL_CODE_TWIN = "pennet"

ENTRY_POINT_GROUP = "inpaint_bench.methods"
PLUGIN_COLOURS = ("#9467bd", "#ff7f0e", "#e377c2", "#8c6d31", "#393b79", "#637939")  # none a built-in's


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


HARNESS_VERSION = _version("inpaint-bench")


class PluginError(RuntimeError):
    """A plugin method that cannot be registered or built: names the plugin and its package."""


def plugin_entries() -> tuple[dict[str, Entry], list[str]]:
    """The entry points of ENTRY_POINT_GROUP as registry entries, and one line for each that
    cannot be registered (a built-in's name, a name taken by another plugin, a bad value)."""
    found: dict[str, Entry] = {}
    problems = []
    for point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        package = point.dist.metadata["Name"] if point.dist else "an unknown package"
        version = point.dist.version if point.dist else None
        who = f"plugin {point.name!r} of {package} {version}"
        if point.name in BUILTINS:
            problems.append(f"{who}: may not take the built-in method's name; ignored")
        elif point.name in found:
            problems.append(f"{who}: the name is taken by {found[point.name].package}'s plugin; ignored")
        elif point.value.count(":") != 1 or not all(point.value.split(":")):
            problems.append(f"{who}: {point.value!r} is not 'module:factory'; ignored")
        else:
            summary = (point.dist.metadata["Summary"] if point.dist else None) or "a plugin method"
            found[point.name] = Entry(point.value, f"{summary} (plugin: {package} {version})",
                                      PLUGIN_COLOURS[len(found) % len(PLUGIN_COLOURS)],
                                      package=package, version=version)
    return found, problems


PLUGINS, PLUGIN_PROBLEMS = plugin_entries()
REGISTRY: dict[str, Entry] = {**BUILTINS, **PLUGINS}


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
    spec = replace(spec, options={**found.options, **spec.options})
    if found.package is None:
        method = getattr(importlib.import_module(module_name), function_name)(spec)
    else:
        method = _build_plugin(name, found, module_name, function_name, spec)
    method.name = name
    return method


def _build_plugin(name: str, found: Entry, module_name: str, function_name: str, spec: MethodSpec) -> Method:
    """A plugin's method; PluginError naming the plugin and its package for each way it fails."""
    from bench import method as method_module  # torch, only once a method is built

    who = f"plugin {name!r} of {found.package} {found.version}"
    try:
        factory = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # noqa: BLE001 — any failure of foreign code is reported the same way
        raise PluginError(f"{who}: cannot load {found.factory} ({type(error).__name__}: {error})") from None
    try:
        method = factory(spec)
    except Exception as error:  # noqa: BLE001
        raise PluginError(f"{who}: its factory {found.factory} raised {type(error).__name__}: {error}") from None
    if not isinstance(method, method_module.Method):
        raise PluginError(f"{who}: its factory {found.factory} returned {type(method).__name__}, "
                          "not a bench.method.Method")
    return method
