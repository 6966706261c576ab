"""PIC-Net's training iterations equal the official trainer's (tests/fixtures/picnet/trainstep.pt).

The fixture (see its README) holds one float64 iteration of lyndonzheng/Pluralistic-Inpainting's
`Pluralistic.optimize_parameters` (commit 034a758) from recipe weights with seeded noise. Ours
runs through the registry seam (`create("picnet")`, `train_step`) from the same weights and
seeds, and every loss, gradient, Adam moment, updated weight and spectral-norm vector of E, G,
D and D_rec is compared. Tolerances: both codes compute the same thing in float64 to ~1e-12;
a changed loss weight, beta or spectral-norm semantics moves these by 1e-4 .. 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.method import MethodSpec
from bench.methods import create
from tests.trainstep import SLOW_PARITY, digest, recipe_tensor, record

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "picnet" / "trainstep.pt"
LOSS_REL = 1e-9
GRAD_REL = 1e-7  # of the tensor's largest official gradient (or moment)
PARAM_LR = 1e-4  # an updated weight, in Adam steps (lr); a gradient near eps=1e-8 amplifies noise
VECTOR_ABS = 1e-9  # spectral-norm u, v


@pytest.fixture(scope="module")
def official() -> dict:
    fixture = torch.load(FIXTURE, weights_only=True)
    assert fixture["format"] == "picnet-trainstep/1", f"{FIXTURE}: not a picnet-trainstep/1 fixture"
    return fixture


def optimizer_of(net: str) -> str:
    return "D" if net.startswith("D") else "G"


def run_ours(official: dict, **options) -> tuple:
    """Our PIC-Net from the fixture's weights, stepped on its inputs; per step, its losses and
    the same records the recorder made of the official networks."""
    method = create("picnet", MethodSpec(image_size=official["image_size"], options=options))
    for name, net in method.networks.items():
        net.double()  # Module.double keeps the Parameter objects, so the optimisers follow
        with torch.no_grad():
            for key, tensor in net.state_dict().items():
                value = recipe_tensor(official["weight_seed"], f"{name}.{key}", tuple(tensor.shape))
                tensor.copy_(torch.from_numpy(value))
    method.train()
    images = official["images"].double() / 255 * 2 - 1  # the official img * 2 - 1, img = u8 / 255
    steps = []
    for it, seed in enumerate(official["noise_seeds"]):
        before = {n: {k: v.detach().clone() for k, v in net.state_dict().items()}
                  for n, net in method.networks.items()}
        torch.manual_seed(seed)
        losses = method.train_step(images, official["holes"][it].double(), step=it)
        nets = {}
        for name, net in method.networks.items():
            state = method.optimizers[optimizer_of(name)].state
            out = {}
            for key, tensor in net.state_dict(keep_vars=True).items():
                rec = {"after": record(f"{name}.{key}", tensor)}
                if isinstance(tensor, torch.nn.Parameter):
                    rec["delta"] = digest(tensor.detach() - before[name][key])
                    if tensor.grad is not None:
                        rec.update(grad=record(f"{name}.{key}", tensor.grad),
                                   exp_avg=record(f"{name}.{key}", state[tensor]["exp_avg"]),
                                   exp_avg_sq=record(f"{name}.{key}", state[tensor]["exp_avg_sq"]))
                out[key] = rec
            nets[name] = out
        steps.append({"losses": losses, "nets": nets})
    return method, steps


@pytest.fixture(scope="module")
def ours(official: dict) -> tuple:
    return run_ours(official)


def relative(mine: list[float], theirs: list[float], scale: float) -> float:
    return max(abs(a - b) for a, b in zip(mine, theirs)) / scale if theirs else 0.0


def worst_differences(official: dict, steps: list[dict]) -> dict[str, tuple[float, str]]:
    """Per kind of record, the largest difference found and where."""
    worst: dict[str, tuple[float, str]] = {}

    def note(kind: str, value: float, where: str) -> None:
        worst[kind] = max(worst.get(kind, (0.0, "")), (value, where))

    lr = official["options"]["lr"]
    for it, (theirs, mine) in enumerate(zip(official["steps"], steps)):
        # A gradient that is zero in exact arithmetic (a conv bias before an instance norm) is
        # float noise on both sides: each kind is compared on the scale of its net's largest.
        floor = {(net, kind): 1e-6 * max(rec[kind]["digest"][3] for rec in records.values() if kind in rec)
                 for net, records in theirs["nets"].items() for kind in ("grad", "exp_avg", "exp_avg_sq")
                 if any(kind in rec for rec in records.values())}
        for key, value in theirs["losses"].items():
            note("loss", abs(mine["losses"][key] - value) / abs(value), f"it{it + 1} {key}")
        for net, records in theirs["nets"].items():
            assert records.keys() == mine["nets"][net].keys(), f"{net}: tensor names differ"
            for name, rec in records.items():
                our = mine["nets"][net][name]
                where = f"it{it + 1} {net}.{name}"
                if name.endswith(("weight_u", "weight_v")):
                    note("spectral-norm vectors", relative(our["after"]["vals"], rec["after"]["vals"], 1.0), where)
                    continue
                note("gradient present", float(("grad" in rec) != ("grad" in our)), where)
                for kind in ("grad", "exp_avg", "exp_avg_sq"):
                    if kind in rec and kind in our:
                        scale = max(rec[kind]["digest"][3], floor[net, kind])
                        note(kind, max(relative(our[kind]["vals"], rec[kind]["vals"], scale),
                                       relative(our[kind]["digest"][1:3], rec[kind]["digest"][1:3],
                                                max(rec[kind]["digest"][1], scale))), where)
                # an Adam update moves each element by up to ~lr: its sum and L1 in lr per element
                numel = max(len(rec["after"]["vals"]), rec["delta"][1] / max(rec["delta"][3], 1e-300))
                note("updated weights [lr]", relative(our["after"]["vals"], rec["after"]["vals"], lr), where)
                note("update sum and L1 [lr per element]", relative(our["delta"][:2], rec["delta"][:2], lr * numel),
                     where)
    return worst


TOLERANCE = {"loss": LOSS_REL, "grad": GRAD_REL, "exp_avg": GRAD_REL, "exp_avg_sq": GRAD_REL,
             "gradient present": 0.0, "updated weights [lr]": PARAM_LR, "update sum and L1 [lr per element]": 1e-6,
             "spectral-norm vectors": VECTOR_ABS}


def test_picnet_iterations_equal_the_official_trainer(official, ours):
    _, steps = ours
    worst = worst_differences(official, steps)
    assert set(worst) == set(TOLERANCE), f"kinds compared: {sorted(worst)}"
    above = {kind: value for kind, value in worst.items() if not value[0] <= TOLERANCE[kind]}
    assert not above, "; ".join(f"{kind}: {v:.3e} at {where} (tol {TOLERANCE[kind]:.0e})"
                                for kind, (v, where) in above.items())


def test_picnet_optimisers_are_the_official_ones(official, ours):
    method, _ = ours
    for name, theirs in official["adam"].items():
        group = method.optimizers[name].param_groups[0]
        mine = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k in theirs}
        assert mine == theirs, f"optimiser {name}: ours {mine}, official {theirs}"


@SLOW_PARITY
def test_torch_spectral_norm_semantics_would_be_caught(official, monkeypatch):
    """The check is sharp enough: sigma's gradient taken with each pass's own u, v (torch's
    spectral_norm), the departure the authors' semantics removed, fails it."""
    from baselines.picnet import networks

    class OwnCopies(torch.autograd.Function):
        @staticmethod
        def forward(ctx, matrix, u, v):
            ctx.save_for_backward(u.clone(), v.clone())
            return torch.dot(u, torch.mv(matrix, v))

        @staticmethod
        def backward(ctx, grad):
            u, v = ctx.saved_tensors
            return grad * torch.outer(u, v), None, None

    monkeypatch.setattr(networks, "SharedSigma", OwnCopies)
    _, steps = run_ours(official)
    worst = worst_differences(official, steps)
    assert worst["grad"][0] > 1e3 * GRAD_REL and worst["grad"][1].split()[1].startswith("D"), worst["grad"]
    for key in ("img_d", "img_d_rec"):  # the critics' losses come before any backward: still equal
        theirs = official["steps"][0]["losses"][key]
        assert abs(steps[0]["losses"][key] - theirs) <= LOSS_REL * abs(theirs), key
