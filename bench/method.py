"""The Method contract: the one seam between the harness and every inpainting model.

Conventions at the seam: images are float NCHW tensors in [-1, 1]; masks are float N1HW
tensors in {0, 1} with **1 = hole**. A model whose official code uses another convention
converts inside its own adapter. The trainer and evaluator call only what is defined here.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from bench import distributed


@dataclass(frozen=True)
class MethodSpec:
    """What a factory needs to build a Method for one run.

    `iterations` is the run's training budget (schedules and GLCIC's phases scale with it);
    `dataset` selects per-dataset official settings (PEN-Net's GAN type and LR schedule);
    `options` holds the method's own config keys: a factory rejects keys it does not know;
    `mean_pixel` is the training split's mean colour in [-1, 1] (GLCIC fills holes with it).
    """

    image_size: int = 256
    iterations: int = 1000
    dataset: str = "sample"
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    mean_pixel: tuple[float, float, float] = (0.0, 0.0, 0.0)


class OptionError(ValueError):
    """A method option that is unknown or has a bad value."""


def take_options(method: str, options: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Merge `options` over `defaults`; an unknown key raises an error naming it."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise OptionError(
            f"method {method!r}: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(defaults))}"
        )
    return {**defaults, **options}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class CheckedOptions:
    """A method's options merged over its defaults (unknown keys refused), checked key by key.

    Each check returns the value in its canonical type or raises an OptionError naming the
    method, the key, the value given and what it must be; the methods' factories share these
    instead of writing their own validators.
    """

    def __init__(self, method: str, options: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.method = method
        self.values = take_options(method, options, defaults)

    def fail(self, key: str, need: str) -> OptionError:
        return OptionError(f"method {self.method!r}: option {key}={self.values[key]!r} is invalid; need {need}")

    def boolean(self, key: str) -> bool:
        if not isinstance(self.values[key], bool):
            raise self.fail(key, "true or false")
        return self.values[key]

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        if self.values[key] not in choices:
            raise self.fail(key, f"one of {', '.join(choices)}")
        return self.values[key]

    def number(self, key: str, *, positive: bool = False) -> float:
        """A finite number >= 0 (> 0 when `positive`)."""
        value = self.values[key]
        if not _is_number(value) or value < 0 or (positive and value == 0):
            raise self.fail(key, "a positive number" if positive else "a finite number >= 0")
        return float(value)

    def integer(self, key: str, minimum: int) -> int:
        value = self.values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"an integer >= {minimum}")
        return value

    def betas(self, key: str) -> tuple[float, float]:
        """Adam's two betas, each in [0, 1)."""
        value = self.values[key]
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(_is_number(b) and 0 <= b < 1 for b in value)):
            raise self.fail(key, "two numbers in [0, 1)")
        return float(value[0]), float(value[1])

    def shares(self, key: str, count: int, names: str) -> tuple[float, ...]:
        """`count` numbers >= 0 with a positive sum (proportions of `names`)."""
        value = self.values[key]
        if not (isinstance(value, (list, tuple)) and len(value) == count
                and all(_is_number(v) and v >= 0 for v in value) and sum(value) > 0):
            raise self.fail(key, f"{count} numbers >= 0 ({names}) with a positive sum")
        return tuple(float(v) for v in value)


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Use `modules` without changing them: no parameter gets a gradient and no batch-norm layer
    updates its running statistics (it still normalises by the batch's, as in training).

    The pass of a generator's output through its critic(s) while the generator steps.
    """
    params = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    norms = [(n, n.track_running_stats) for m in modules for n in m.modules()
             if isinstance(n, nn.modules.batchnorm._BatchNorm)]
    for p, _ in params:
        p.requires_grad_(False)
    for n, _ in norms:
        n.track_running_stats = False
    try:
        yield
    finally:
        for p, flag in params:
            p.requires_grad_(flag)
        for n, flag in norms:
            n.track_running_stats = flag


@dataclass(frozen=True)
class Release:
    """One set of weights as its authors publish them.

    `files` are the names inside WEIGHTS_ROOT/<name>/ as the authors distribute them; a name may
    be a glob pattern where the authors' file name carries a training epoch we cannot know
    (PEN-Net's `gen_*.pth`): it must then match exactly one file.
    """

    name: str  # stable id used in configs, e.g. "pennet-celeba-hq"
    trained_on: str  # the authors' training set: "celeba-hq", "dtd", "facade", "places2", ...
    files: tuple[str, ...]  # file names inside WEIGHTS_ROOT/<name>/
    source: str  # the authors' download page


class ReleaseError(ValueError):
    """Released weights that are missing, or that do not match the method's networks."""


@dataclass(frozen=True)
class OfficialTensor:
    """One tensor of a released file and where it lands: `network`'s state-dict entry `key`."""

    file: Path
    source_key: str  # its name in the authors' file
    network: str  # a key of Method.networks
    key: str  # our state_dict() name
    tensor: torch.Tensor


@dataclass(frozen=True)
class OfficialWeights:
    """What a method read from released weights: the format it recognised and every tensor."""

    format: str
    files: tuple[Path, ...]
    tensors: tuple[OfficialTensor, ...]
    settings: dict[str, Any] = field(default_factory=dict)  # non-tensor content (GLCIC's mean)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_official(networks: dict[str, nn.Module], weights: OfficialWeights) -> None:
    """Raise ReleaseError unless `weights` fill every entry of the networks they touch, exactly:
    the error names the file, the first missing or unexpected key, and both shapes."""
    given: dict[tuple[str, str], OfficialTensor] = {}
    for item in weights.tensors:
        if item.network not in networks:
            raise ReleaseError(f"{item.file}: {item.source_key} maps to network {item.network!r}, "
                               f"which this method lacks ({', '.join(networks)})")
        twin = given.setdefault((item.network, item.key), item)
        if twin is not item:
            raise ReleaseError(f"{item.file}: {twin.source_key} and {item.source_key} both map "
                               f"to {item.network}.{item.key}")
    for name in dict.fromkeys(item.network for item in weights.tensors):
        ours = networks[name].state_dict()
        files = ", ".join(str(f) for f in weights.files)
        for key, tensor in ours.items():
            item = given.pop((name, key), None)
            if item is None:
                raise ReleaseError(f"{files}: {name}.{key} {tuple(tensor.shape)} is missing "
                                   "from the released weights")
            if tuple(item.tensor.shape) != tuple(tensor.shape):
                raise ReleaseError(f"{item.file}: {item.source_key} has shape "
                                   f"{tuple(item.tensor.shape)}; ours ({name}.{key}) is "
                                   f"{tuple(tensor.shape)}")
    if given:
        item = next(iter(given.values()))
        raise ReleaseError(f"{item.file}: unexpected {item.source_key} {tuple(item.tensor.shape)} "
                           f"(maps to {item.network}.{item.key}, which our network lacks)")


def provenance(weights: OfficialWeights, releases: tuple[Release, ...] = ()) -> dict[str, Any]:
    """The record `Method.load_official` returns: what was loaded, from which files (sha256).

    `release` is the name of the release whose WEIGHTS_ROOT/<name>/ folder holds the files
    (the layout of bench.weights), else None: the content says the format, not the dataset.
    """
    folders = {Path(f).resolve().parent.name for f in weights.files}
    names = [r.name for r in releases if {r.name} == folders]
    return {"kind": "released", "format": weights.format, "release": names[0] if names else None,
            "files": {Path(f).name: sha256(f) for f in weights.files}}


class Method(abc.ABC):
    """An inpainting method: its networks, its optimisers and its own training step."""

    name: str = "method"
    # The logged losses the trainer watches for a jump (bench.divergence): those that should only
    # fall or level off while the method learns, its reconstruction terms (adversarial ones swing
    # by design). None: every logged value.
    watched_losses: tuple[str, ...] | None = None
    fit_check_steps: int = 200
    """Training steps `inpaint-bench methods check` gives this method to fit one fixed batch
    (bench/method_check.py); a method that needs more, or fewer, declares its own."""

    def __init__(self) -> None:
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.replicas: dict[str, nn.Module] = {}
        # The networks a training pass may leave with parameters that get no gradient; DDP
        # must search each of their passes' graphs for them (find_unused_parameters).
        self.unused_parameters: frozenset[str] = frozenset()
        self.device = torch.device("cpu")
        self.released: dict[str, Any] | None = None  # load_official's provenance, once loaded

    # --- what every method implements -------------------------------------------------------
    @abc.abstractmethod
    def train_step(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> dict[str, float]:
        """One training iteration (all its D and G updates) at 0-based iteration `step`.

        Returns the scalar losses to log, as Python floats.
        """

    @abc.abstractmethod
    def inpaint(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The raw prediction (N3HW in [-1, 1]) for `images` with holes where `masks` is 1.

        Must not read the hole pixels of `images`. The harness composites and scores it.
        """

    def inpaint_scored(self, images: torch.Tensor, masks: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        """The prediction the evaluator scores; by default `inpaint`, which never sees `truth`.

        Only a method whose official protocol picks among its samples with the ground truth
        (PIC-Net's best-of-N, an oracle) overrides this, and says so in `protocol()`.
        """
        del truth
        return self.inpaint(images, masks)

    def departures(self) -> list[str]:
        """One line for each place this method departs from its paper or official code."""
        return []

    def protocol(self) -> dict[str, str]:
        """Evaluation choices a reader needs (e.g. PIC-Net's sample selection)."""
        return {}

    def releases(self) -> tuple[Release, ...]:
        """The weights this method's authors publish (empty: none)."""
        return ()

    def read_official(self, path: Path) -> OfficialWeights:
        """Read released weights at `path` (a file, or the release folder of a several-file
        release) and map every tensor onto `self.networks`, recognising the format by content.

        Raises ReleaseError if the content is not a format this method knows.
        """
        known = ", ".join(r.name for r in self.releases()) or "none"
        raise ReleaseError(f"method {self.name!r} cannot load released weights ({path}); "
                           f"releases it knows: {known}")

    def load_official(self, path: Path) -> dict[str, Any]:
        """Load the authors' released weights strictly into `self.networks`.

        Everything or nothing: a mismatch raises ReleaseError naming the file, the first missing
        or unexpected key and both shapes, and leaves the networks as they were. Returns the
        provenance {"kind": "released", "format", "release" (name or None), "files": {name:
        sha256}}.
        """
        weights = self.read_official(Path(path))
        check_official(self.networks, weights)
        states = {name: net.state_dict() for name, net in self.networks.items()}
        with torch.no_grad():
            for item in weights.tensors:
                target = states[item.network][item.key]
                target.copy_(item.tensor.to(dtype=target.dtype))
        self.official_loaded(weights)
        self.released = provenance(weights, self.releases())
        return self.released

    def official_loaded(self, weights: OfficialWeights) -> None:
        """Called once released weights are in the networks: adopt their non-tensor settings
        (GLCIC's mean colour) or finish as the authors' loading does. Default: nothing."""
        del weights

    def extra_state(self) -> dict[str, Any]:
        """Method state beyond networks and optimisers (kept in checkpoints)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        del state

    # --- shared machinery ----------------------------------------------------------------
    @property
    def rank(self) -> int:
        """This process's rank under torchrun (0 alone): for per-process random draws."""
        return distributed.rank()

    def replica(self, name: str) -> nn.Module:
        """Network `name` as a training forward pass that updates it must call it.

        Under torchrun this is its DistributedDataParallel wrapper, which averages the gradients
        across processes during the backward pass; alone it is the network itself. A pass
        through a frozen network (a critic judging the generator's output) and inference call
        `self.networks[name]` directly: DDP expects every forward pass it sees with gradients
        on to end in gradients for all of its parameters.
        """
        return self.replicas.get(name, self.networks[name])

    def distribute(self) -> None:
        """Wrap every network in DDP (under torchrun; alone a no-op).

        Called once the networks sit on `self.device` in their final memory format and hold
        their starting or resumed weights: wrapping copies rank 0's parameters and buffers to
        every process. Buffers (BN statistics, spectral-norm vectors) follow rank 0 at each
        wrapped forward pass, DDP's default.
        """
        if not distributed.is_distributed():
            return
        devices = [self.device] if self.device.type == "cuda" else None
        self.replicas = {
            name: DistributedDataParallel(
                net, device_ids=devices, find_unused_parameters=name in self.unused_parameters
            )
            for name, net in self.networks.items()
        }

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Zero, backpropagate (DDP averages across processes meanwhile) and step `name`."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def set_learning_rate(self, name: str, lr: float) -> None:
        for group in self.optimizers[name].param_groups:
            group["lr"] = lr

    def to(self, device: torch.device | str) -> "Method":
        self.device = torch.device(device)
        for net in self.networks.values():
            net.to(self.device)
        for opt in self.optimizers.values():
            for state in opt.state.values():
                for key, value in state.items():
                    if torch.is_tensor(value):
                        state[key] = value.to(self.device)
        return self

    def channels_last(self) -> "Method":
        """Every network in the channels_last memory format (train.channels_last)."""
        for net in self.networks.values():
            net.to(memory_format=torch.channels_last)
        return self

    def train(self, mode: bool = True) -> "Method":
        for net in self.networks.values():
            net.train(mode)
        return self

    def eval(self) -> "Method":
        return self.train(False)

    def parameter_counts(self) -> dict[str, int]:
        return {
            name: sum(p.numel() for p in net.parameters() if p.requires_grad)
            for name, net in self.networks.items()
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {n: m.state_dict() for n, m in self.networks.items()},
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, net in self.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.load_extra_state(state.get("extra", {}))
        self.to(self.device)
