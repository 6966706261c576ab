"""PEN-Net's training iterations equal the official trainer's (`shared/parity/pennet/trainstep.pt`).

The fixture records researchmm/PEN-Net-for-Inpainting (branch pytorch, commit 8721a55d,
core/trainer.py) doing full iterations (critic step, then generator step); the script beside it,
`check_trainstep.py`, rebuilds our PEN-Net through the registry seam from the same weights and
inputs and compares every loss, logit, gradient, Adam moment and updated weight against its
tolerances (its header says why each). The float32 case (one iteration, as trained) runs every
time; the float64 cases (nsgan and hinge, three iterations each, minutes) with the slow marker.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from tests.parity import PARITY, needs
from tests.trainstep import SLOW_PARITY


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_trainstep", PARITY / "pennet" / "check_trainstep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fixture():
    found = torch.load(PARITY / "pennet" / "trainstep.pt", weights_only=True)
    assert found["format"] == "pennet-trainstep/1", "pennet/trainstep.pt: not a pennet-trainstep/1 fixture"
    return found


def check(checker, fixture, dtype: str) -> None:
    report = checker.Report()
    cases = [case for case in fixture["cases"] if case["dtype"] == dtype]
    assert cases, f"pennet/trainstep.pt has no {dtype} case"
    masks = [m.float() for m in fixture["masks"]]
    for case in cases:
        checker.run_case(case, fixture["images"], masks, len(case["steps"]), report, verbose=False)
    assert len(report.rows) > 30 * len(cases)
    failures = report.failures()
    assert not failures, "; ".join(f"{what}: {value:.3e} > {tol:.1e}" for what, value, tol in failures)


@needs("pennet/trainstep.pt", "pennet/check_trainstep.py")
def test_pennet_float32_iteration_equals_the_official_trainer(checker, fixture):
    check(checker, fixture, "float32")


@SLOW_PARITY
@needs("pennet/trainstep.pt", "pennet/check_trainstep.py")
def test_pennet_float64_iterations_equal_the_official_trainer(checker, fixture):
    check(checker, fixture, "float64")
