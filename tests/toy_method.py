"""A tiny Method for the trainer's and evaluator's tests, and an entry point that registers it.

`build(spec)` makes a two-layer convolutional inpainter with one Adam optimiser. Options make
it useful for tests: `noise` adds seeded torch noise to its input (so exact resume must restore
the RNG), `sleep` slows each step (so a test can kill it mid-run), `nan_at_step` makes the loss
non-finite at that step, `nan_output_after` N makes `inpaint` return NaN once it has taken more
than N steps, `collapse_at_step` makes it diverge there: from that 0-based step on its
output layer's weights are zero and its bias saturates, so its output is white whatever the
input and its loss jumps.

`OfficialToy` reads released weights (`read_official`: a plain state dict of its network), which
the evaluator needs for official checkpoints; "toy-plain" is the same method without them.

`python -m tests.toy_method train|evaluate ARGS…` registers the methods and runs the harness's
own command line, so subprocess tests (SIGKILL, torchrun) use the real entry points.
`tiny_config` is the small run the tests share.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from bench import config, methods
from bench.method import Method, MethodSpec, OfficialTensor, OfficialWeights, take_options

ENTRIES = {
    "toy": methods.Entry("tests.toy_method:build", "a two-layer test inpainter", "#2e7d32"),
    "toy-plain": methods.Entry("tests.toy_method:build_plain", "the same, without released weights", "#558b2f"),
}
DEFAULTS = {"width": 8, "noise": 0.0, "sleep": 0.0, "nan_at_step": -1, "collapse_at_step": -1,
            "nan_output_after": -1}


class ToyMethod(Method):
    def __init__(self, options: dict) -> None:
        super().__init__()
        self.options = options
        width = options["width"]
        self.networks["g"] = nn.Sequential(
            nn.Conv2d(4, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 3, padding=1), nn.Tanh()
        )
        self.optimizers["g"] = torch.optim.Adam(self.networks["g"].parameters(), lr=1e-2)
        self.calls = 0

    def _predict(self, images: torch.Tensor, masks: torch.Tensor, net: nn.Module) -> torch.Tensor:
        visible = images * (1 - masks)
        return net(torch.cat([visible, masks], dim=1))

    def train_step(self, images: torch.Tensor, masks: torch.Tensor, step: int) -> dict[str, float]:
        if self.options["sleep"]:
            time.sleep(self.options["sleep"])
        if 0 <= self.options["collapse_at_step"] <= step:
            with torch.no_grad():
                self.networks["g"][-2].weight.zero_()
                self.networks["g"][-2].bias.fill_(5.0)
        if self.options["noise"]:
            images = images + self.options["noise"] * torch.randn_like(images)
        prediction = self._predict(images, masks, self.replica("g"))
        loss = (prediction - images).abs().mean()
        if step == self.options["nan_at_step"]:
            loss = loss * float("nan")
        self.optimize("g", loss)
        self.calls += 1
        return {"l1": loss.item(), "hole_l1": ((prediction - images).abs() * masks).mean().item()}

    def inpaint(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        prediction = self._predict(images, masks, self.networks["g"])
        if 0 <= self.options["nan_output_after"] < self.calls:
            return prediction * float("nan")
        return prediction

    def departures(self) -> list[str]:
        return ["a test double, not a model"]

    def extra_state(self) -> dict:
        return {"calls": self.calls}

    def load_extra_state(self, state: dict) -> None:
        self.calls = state["calls"]


class OfficialToy(ToyMethod):
    def read_official(self, path: Path) -> OfficialWeights:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return OfficialWeights("toy-state-dict", (Path(path),), tuple(
            OfficialTensor(Path(path), key, "g", key, tensor) for key, tensor in state.items()))


def build(spec: MethodSpec) -> OfficialToy:
    return OfficialToy(take_options("toy", spec.options, DEFAULTS))


def build_plain(spec: MethodSpec) -> ToyMethod:
    return ToyMethod(take_options("toy-plain", spec.options, DEFAULTS))


def register() -> None:
    methods.REGISTRY.update(ENTRIES)


@contextlib.contextmanager
def registered() -> Iterator[None]:
    """The toy entries in the registry inside the block, the registry as it was after it."""
    saved = dict(methods.REGISTRY)
    register()
    try:
        yield
    finally:
        methods.REGISTRY.clear()
        methods.REGISTRY.update(saved)


def train_tiny(root: Path, name: str, *overrides: str) -> Path:
    """A tiny toy run trained in `root / name`, its sample cache in `root / "cache"` (inside `registered()`)."""
    from bench import train

    return train.train(tiny_config(f"data.cache_dir={root / 'cache'}", *overrides),
                       run_dir=root / name, progress=False)


def tiny_config(*overrides: str) -> config.Config:
    """A run of the toy method on the sample set at 32², a few CPU steps, no workers."""
    base = {
        "run": {"id": "tiny"},
        "method": {"name": "toy"},
        "data": {"dataset": "sample", "size": 32, "train_masks": "mixed"},
        "train": {"iterations": 6, "batch_size": 4, "checkpoint_every": 2, "keep_last": 2,
                  "log_every": 2, "sample_every": 3, "num_workers": 0, "device": "cpu"},
        "eval": {"batch_size": 4, "num_workers": 0, "count": 4, "samples_to_save": 2},
    }
    return config.from_dict(config.apply_overrides(base, overrides))


def main(argv: list[str]) -> int:
    register()
    from bench.cli import main as run

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
