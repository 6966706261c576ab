"""Shared fixtures: small synthetic run folders for the tables and report tests.

`make_run(root, run_id, method, dataset, quality=…)` (fixture `run_factory`) writes a run
folder the way the trainer and evaluator do (config.yaml, manifest.json, method.json,
losses.csv, eval/rows.csv with every mask setting, eval/samples PNGs). Metric values are a
deterministic function of (image, mask) plus the run's `quality` (higher = better on every
metric) plus small seeded per-run noise, so paired comparisons have known signs. `bench_runs`
builds the standard set the tests share. `checkout_untouched` (every session) fails the suite
when a test changed a tracked file or anything under the checkout's results/.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from bench.data.masks import BUCKET_LABELS
from bench.records import rows
from bench.records.manifest import Manifest
from bench.runs import RunFolder
from tests import checkout_guard, toy_method

SAMPLE_SIZE = 32
CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture
def toy_registered():
    """The toy methods (tests/toy_method.py) in the registry for one test; a module takes it for
    all its tests with `pytestmark = pytest.mark.usefixtures("toy_registered")`."""
    with toy_method.registered():
        yield


@pytest.fixture(scope="session", autouse=True)
def checkout_untouched():
    """No test may write outside its temporary folder: the checkout's tracked files and results/
    are the same after the session as before it, or the session fails naming what changed."""
    before = checkout_guard.snapshot(CHECKOUT)
    yield
    changed = checkout_guard.changes(before, checkout_guard.snapshot(CHECKOUT))
    if changed:
        pytest.fail(f"the tests changed the checkout ({len(changed)} path(s)): " + "; ".join(changed[:20])
                    + " (a test writes outside its temporary folder, unless you edited these during the run)",
                    pytrace=False)


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def image_ids(dataset: str, images: int, domains: tuple[str, ...]) -> list[tuple[str, str]]:
    """(image_id, domain) pairs: sample ids are prefixed by their domain."""
    if dataset == "sample":
        return [(f"{d}-img{i}", d) for d in domains for i in range(images)]
    return [(f"{dataset}-{i:04d}", "") for i in range(images)]


def settings(center_only: bool) -> list[tuple[str, str, str]]:
    """(mask_setting, bucket label, samples folder) for every evaluated setting."""
    found = [("center", "all", "center_all")]
    if not center_only:
        found += [("irregular", label, f"irregular_{k}") for k, label in enumerate(BUCKET_LABELS)]
    return found


def metric_row(run_id, image_id, setting, bucket, quality) -> dict[str, float]:
    """hole_ratio and every metric of one synthetic row."""
    base = np.random.default_rng(_seed(image_id, setting, bucket))
    noise = np.random.default_rng(_seed(run_id, image_id, setting, bucket))
    level = 3.0 if setting == "center" else 0.5 + 1.5 * BUCKET_LABELS.index(bucket)
    l1 = level * (1 + 0.1 * base.standard_normal()) - 0.4 * quality + 0.02 * noise.standard_normal()
    psnr = 34 - 2.5 * level + base.standard_normal() + 1.5 * quality + 0.05 * noise.standard_normal()
    msssim = 99 - 4 * level + base.standard_normal() + 2 * quality + 0.05 * noise.standard_normal()
    ratio = 0.25 if setting == "center" else 0.05 + 0.1 * BUCKET_LABELS.index(bucket)
    return {"hole_ratio": ratio, "l1_rel_pct": l1, "mae_pct": 0.6 * l1, "psnr": psnr,
            "ssim": msssim / 100, "msssim_pct": msssim}


def _picture(image_id: str) -> np.ndarray:
    rng = np.random.default_rng(_seed("picture", image_id))
    y, x = np.mgrid[0:SAMPLE_SIZE, 0:SAMPLE_SIZE]
    base = np.stack([x * 7, y * 7, (x + y) * 3], axis=-1) + rng.integers(0, 60, size=3)
    return np.clip(base, 0, 255).astype(np.uint8)


def _save_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def write_samples(run_dir: Path, run_id: str, ids: list[tuple[str, str]], center_only: bool,
                  count: int) -> None:
    """`count` samples per setting, chosen as the evaluator chooses them (spread over the domains)."""
    from bench.evaluate import sample_indices  # here: torch is imported only by tests that write runs

    chosen = [ids[i][0] for i in sorted(sample_indices([domain for _, domain in ids], count))]
    for setting, bucket, folder in settings(center_only):
        for image_id in chosen:
            truth = _picture(image_id)
            hole = np.zeros(truth.shape[:2], bool)
            if setting == "center":
                hole[8:24, 8:24] = True
            else:
                hole[:, : 4 + 4 * BUCKET_LABELS.index(bucket)] = True
            given = truth.copy()
            given[hole] = 255
            rng = np.random.default_rng(_seed(run_id, image_id, folder))
            output = truth.copy()
            output[hole] = rng.integers(0, 255, size=(int(hole.sum()), 3))
            for kind, pixels in (("truth", truth), ("input", given), ("output", output)):
                _save_png(run_dir / "eval" / "samples" / folder / f"{image_id}_{kind}.png", pixels)


def make_run(root: Path, run_id: str, method: str, dataset: str, *, quality: float = 0.0,
             images: int = 4, domains: tuple[str, ...] = ("texture", "face"),
             center_only: bool = False, profile: str | None = None,
             stale_checkpoint: bool = False, departures: tuple[str, ...] = (),
             protocol: dict[str, str] | None = None, samples: int = 2) -> Path:
    """Write one synthetic run folder under `root`; returns its path.

    `stale_checkpoint` adds rows of an earlier checkpoint with absurd values (the tables must
    keep only the latest checkpoint's rows); `samples` images per setting are saved as PNGs."""
    run_dir = Path(root) / run_id
    (run_dir / "eval").mkdir(parents=True)
    ids = image_ids(dataset, images, domains)
    checkpoints = [("step_0000005.pt", 50.0)] if stale_checkpoint else []
    checkpoints.append(("step_0000040.pt", quality))
    protocol_column = rows.protocol_text(protocol or {})
    rows.Writer(RunFolder(run_dir).rows_file).write(
        {"run_id": run_id, "method": method, "checkpoint": checkpoint,
         "checkpoint_sha256": hashlib.sha256(checkpoint.encode()).hexdigest(), "dataset": dataset,
         "domain": domain, "image_id": image_id,
         "mask_id": "center" if setting == "center" else f"irr{index - 1}-{image_id}",
         "mask_setting": setting, "bucket": bucket, "protocol": protocol_column,
         **metric_row(run_id, image_id, setting, bucket, value)}
        for checkpoint, value in checkpoints for image_id, domain in ids
        for index, (setting, bucket, _) in enumerate(settings(center_only)))
    write_samples(run_dir, run_id, ids, center_only, samples)
    with open(run_dir / "losses.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["step", "name", "value"])
        rng = np.random.default_rng(_seed(run_id, "losses"))
        for step in range(40):
            writer.writerow([step, "gen_l1", 1.0 / (1 + 0.1 * step) + 0.05 * rng.random()])
            writer.writerow([step, "dis_adv", 0.7 + 0.1 * rng.standard_normal()])
    RunFolder(run_dir).write_manifest(Manifest(
        run_id=run_id, profile=profile, method=method, dataset=dataset,
        git_sha="0123456789abcdef0123", git_dirty=True, packages={"torch": "2.x"},
        command=["inpaint-bench", "train"], seed=0, device="cpu", world_size=1,
        started="2025-01-01T00:00:00+00:00", finished="2025-01-01T00:10:00+00:00", status="finished"))
    card = {"name": method, "description": f"synthetic {method}", "parameter_counts": {"generator": 12345},
            "departures": list(departures), "protocol": protocol or {}, "mean_pixel": [0.5, 0.5, 0.5]}
    (run_dir / "method.json").write_text(json.dumps(card))
    config = {"run": {"id": run_id}, "method": {"name": method, "options": {}},
              "data": {"dataset": dataset, "size": 256, "train_masks": "mixed", "nvidia_masks": None,
                       "mask_augment": True, "color_jitter": True},
              "train": {"iterations": 40, "batch_size": 2, "batch_size_scope": "global", "seed": 0},
              "eval": {"masks": ["center"] + ([] if center_only else [f"irregular_{k}" for k in range(6)]),
                       "count": None, "mask_seed": 7}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run_dir


@pytest.fixture
def run_factory():
    """`make_run` itself, for tests that build their own run folders."""
    return make_run


@pytest.fixture(scope="session")
def bench_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Five runs (shared by every test: read them, never change them): SRPNet, PEN-Net and the
    ablation baseline on facade (PEN-Net with one extra image SRPNet lacks, SRPNet with a stale
    earlier checkpoint), and SRPNet and GLCIC on the sample dataset (quick profile)."""
    root = tmp_path_factory.mktemp("bench_runs")
    return {
        "srpnet-facade": make_run(root, "srpnet-facade", "srpnet", "facade", quality=1.0,
                                  stale_checkpoint=True,
                                  departures=("residual block layout is our reading of the paper.",),
                                  protocol={"loss_weights": "paper silent: PEN-Net's"}),
        "pennet-facade": make_run(root, "pennet-facade", "pennet", "facade", quality=0.0, images=5,
                                  departures=("pennet synthetic departure.",)),
        "ablation-facade": make_run(root, "ablation-facade", "srpnet-baseline", "facade", quality=0.2,
                                    center_only=True),
        "srpnet-sample": make_run(root, "srpnet-sample", "srpnet", "sample", quality=0.8, profile="quick"),
        "glcic-sample": make_run(root, "glcic-sample", "glcic", "sample", quality=-0.5, profile="quick",
                                 protocol={"glcic_postprocess": "none"}),
    }
