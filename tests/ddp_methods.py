"""Train every registry GAN for a few steps on fixed data, alone or as one of torchrun's processes.

    python -m torch.distributed.run --standalone --nproc-per-node 2 -m tests.ddp_methods OUT

Each process takes its slice of one global batch, so two processes see what one process sees.
Rank 0 saves to OUT (a torch file), per method: its final parameters and step-0 gradients, the
class of each training replica, and the largest difference between any process's parameters
and its own.
"""

from __future__ import annotations

import sys

import torch

from bench import distributed
from bench.method import MethodSpec
from bench.methods import create

METHODS = ("srpnet", "pennet", "glcic", "picnet")
SIZE, GLOBAL_BATCH, STEPS = 64, 4, 3  # GLCIC passes its three phases in 3 steps


def fixed_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Random images and one centred square hole (every image the same mask)."""
    images = torch.rand(GLOBAL_BATCH, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)) * 2 - 1
    masks = torch.zeros(GLOBAL_BATCH, 1, SIZE, SIZE)
    masks[..., SIZE // 4 : 3 * SIZE // 4, SIZE // 4 : 3 * SIZE // 4] = 1
    return images, masks


def train_method(name: str) -> dict:
    """`STEPS` train steps of method `name` on this process's slice of the fixed batch.

    Returns the final parameters, the class of each training replica, and the gradients every
    optimiser stepped with at step 0 (after DDP's averaging).
    """
    images, masks = fixed_batch()
    share = GLOBAL_BATCH // distributed.world_size()
    rows = slice(distributed.rank() * share, (distributed.rank() + 1) * share)
    method = create(name, MethodSpec(image_size=SIZE, iterations=STEPS, seed=0))
    method.distribute()
    first_gradients: dict[str, torch.Tensor] = {}

    def record(optimizer_name: str):
        def hook(optimizer, args, kwargs):
            for index, param in enumerate(p for g in optimizer.param_groups for p in g["params"]):
                if param.grad is not None:
                    first_gradients.setdefault(f"{optimizer_name}.{index}", param.grad.clone())
        return hook

    for optimizer_name, optimizer in method.optimizers.items():
        optimizer.register_step_pre_hook(record(optimizer_name))
    torch.manual_seed(100 + distributed.rank())  # the methods' own noise, as the trainer seeds it
    for step in range(STEPS):
        method.train_step(images[rows], masks[rows], step)
        if step == 0:
            gradients = dict(first_gradients)
    return {
        "parameters": {
            f"{net}.{key}": param.detach().clone()
            for net, module in method.networks.items()
            for key, param in module.named_parameters()
        },
        "replicas": {net: type(method.replica(net)).__name__ for net in method.networks},
        "gradients": gradients,
    }


def spread(parameters: dict[str, torch.Tensor]) -> float:
    """The largest difference between any process's `parameters` and rank 0's.

    Buffers are left out: BN statistics follow rank 0 at each DDP forward pass and drift apart
    in between (each process updates them from its own slice).
    """
    everyone = distributed.gather_objects(parameters)
    return max(
        float((other[key] - parameters[key]).abs().max()) for other in everyone for key in parameters
    )


def main(out: str) -> int:
    torch.set_num_threads(1)
    distributed.setup("cpu")
    try:
        results = {}
        for name in METHODS:
            result = train_method(name)
            result["spread"] = spread(result["parameters"])
            results[name] = result
        if distributed.rank() == 0:
            torch.save(results, out)
        distributed.barrier()
    finally:
        distributed.teardown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
