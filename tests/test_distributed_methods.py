"""Every registry GAN trains under torchrun with DDP-wrapped networks: the processes stay in
step, and SRPNet/PEN-Net (no batch statistics, no noise) equal one process on the whole batch."""

import subprocess
import sys

import pytest
import torch

from tests import ddp_methods
from tests.test_train import ROOT, subprocess_env


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "results.pt"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "tests.ddp_methods", str(out)],
        cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return torch.load(out)


@pytest.mark.parametrize("name", ddp_methods.METHODS)
def test_processes_wrap_every_network_in_ddp_and_stay_identical(two_processes, name):
    result = two_processes[name]
    assert set(result["replicas"].values()) == {"DistributedDataParallel"}, result["replicas"]
    assert result["spread"] == 0.0


@pytest.mark.parametrize("name", ["srpnet", "pennet"])
def test_two_processes_average_to_one_process_on_the_global_batch(two_processes, name):
    alone = ddp_methods.train_method(name)
    assert "DistributedDataParallel" not in alone["replicas"].values()
    pair = two_processes[name]["gradients"]
    assert pair.keys() == alone["gradients"].keys() and len(pair) > 0
    scale = max(g.abs().max() for g in alone["gradients"].values())
    for key, gradient in alone["gradients"].items():
        # Compared with the largest gradient: a bias before instance norm has a true gradient
        # of 0, so its float noise has no meaningful relative error.
        torch.testing.assert_close(pair[key], gradient, rtol=0, atol=1e-5 * float(scale), msg=key)
