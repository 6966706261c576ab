"""bench.evaluate: per-image rows with fixed masks, sample PNGs, resume, official weights and
two gloo processes sharding one evaluation."""

import csv
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import evaluate, runs, train
from bench.data import masks
from bench.records import rows as rows_record
from bench.method import ReleaseError
from tests import toy_method

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["eval.masks=[center, irregular_5]"]


pytestmark = pytest.mark.usefixtures("toy_registered")  # tests/conftest.py


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A toy run at 64² (MS-SSIM's 5 scales need ≥ 33 px), trained two steps and evaluated."""
    with toy_method.registered():
        cfg = toy_method.tiny_config("data.size=64", "train.iterations=2")
        run_dir = train.train(cfg, run_dir=tmp_path_factory.mktemp("runs") / "toy", progress=False)
        evaluate.evaluate(run_dir, overrides=SETTINGS, progress=False)
        return run_dir


@pytest.fixture
def run_dir(evaluated, tmp_path):
    copy = tmp_path / "toy"
    shutil.copytree(evaluated, copy)
    return copy


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_setting_names():
    center, irregular = masks.EvalSetting("center"), masks.EvalSetting("irregular_2")
    assert (center.kind, center.bucket, center.folder) == ("center", "all", "center_all")
    assert (irregular.kind, irregular.bucket, irregular.folder) == ("irregular", "(0.2,0.3]", "irregular_2")


def test_rows_masks_and_samples(run_dir):
    rows_file = run_dir / "eval" / "rows.csv"
    with open(rows_file) as handle:
        assert handle.readline().strip() == ",".join(rows_record.COLUMNS)
    rows = read(rows_file)
    assert len(rows) == 8
    assert {r["checkpoint"] for r in rows} == {"step_0000002.pt"}
    assert {(r["mask_setting"], r["bucket"]) for r in rows} == {("center", "all"), ("irregular", "(0.5,0.6]")}
    expected = masks.test_masks("irregular", 64, bucket=5, count=4, seed=0)
    irregular = [r for r in rows if r["mask_setting"] == "irregular"]
    assert [r["mask_id"] for r in irregular] == expected.ids  # image i ↔ mask i
    assert all(0.5 < float(r["hole_ratio"]) <= 0.6 for r in irregular)
    assert all(float(r["hole_ratio"]) == 0.25 for r in rows if r["mask_setting"] == "center")
    assert all(0 < float(r["psnr"]) < 100 and 0 < float(r["ssim"]) < 1 for r in rows)

    folder = run_dir / "eval" / "samples" / "irregular_5"
    assert len(list(folder.glob("*.png"))) == 6  # 2 images × truth, input, output
    saved = {p.name.removesuffix("_truth.png") for p in folder.glob("*_truth.png")}
    assert saved == {irregular[0]["image_id"], irregular[2]["image_id"]}  # spread over the 4, not the first 2
    image_id = irregular[0]["image_id"]
    truth, shown, output = (np.asarray(Image.open(folder / f"{image_id}_{v}.png"))
                            for v in ("truth", "input", "output"))
    hole = expected[0][1].astype(bool)
    assert truth.shape == (64, 64, 3) and truth.dtype == np.uint8
    assert (shown[hole] == 255).all() and (shown[~hole] == truth[~hole]).all()
    assert (output[~hole] == truth[~hole]).all() and not (output[hole] == truth[hole]).all()


def test_samples_are_spread_over_the_split_and_its_domains():
    four_domains = ["texture"] * 6 + ["facade"] * 6 + ["face"] * 6 + ["scene"] * 6
    assert evaluate.sample_indices(four_domains, 4) == {0, 6, 12, 18}  # one per domain
    assert evaluate.sample_indices(four_domains, 8) == {0, 3, 6, 9, 12, 15, 18, 21}
    assert evaluate.sample_indices([""] * 100, 4) == {0, 25, 50, 75}  # no domains: over the split
    assert evaluate.sample_indices(["a"] * 2 + ["b"] * 10, 5) == {0, 1, 2, 5, 8}  # a has only 2
    assert evaluate.sample_indices(["a", "b"], 9) == {0, 1}
    assert evaluate.sample_indices(["a", "b"], 0) == set()


def test_interrupted_evaluation_resumes_without_duplicates(run_dir):
    rows_file = run_dir / "eval" / "rows.csv"
    complete = rows_file.read_text().splitlines()
    rows_file.write_text("\n".join(complete[:4]) + "\n" + complete[4][:10])  # killed mid-line
    evaluate.evaluate(run_dir, overrides=SETTINGS, progress=False)
    assert sorted(rows_file.read_text().splitlines()) == sorted(complete)


def test_run_folder_accepts_only_evaluation_overrides(run_dir):
    with pytest.raises(evaluate.EvaluationError, match="data.size=32: only eval.. and train.device"):
        evaluate.evaluate(run_dir, overrides=["data.size=32"])


def test_official_weights_go_through_load_official(run_dir, tmp_path):
    weights = tmp_path / "toy_official.pth"
    torch.save(runs.load_checkpoint(runs.latest_checkpoint(runs.RunFolder(run_dir)))
               ["method"]["networks"]["g"], weights)
    cfg = runs.RunFolder(run_dir).read_config()
    official = tmp_path / "official"
    rows = read(evaluate.evaluate(cfg, run_dir=official, official=weights, overrides=SETTINGS,
                                  progress=False))
    ours = read(run_dir / "eval" / "rows.csv")
    assert {r["checkpoint"] for r in rows} == {"official:toy_official.pth"}
    assert [r["psnr"] for r in rows] == [r["psnr"] for r in ours]  # the same weights
    assert runs.RunFolder(official).read_manifest().status == "finished"
    plain = dataclasses.replace(cfg, method=dataclasses.replace(cfg.method, name="toy-plain"))
    with pytest.raises(ReleaseError, match="'toy-plain' cannot load released weights"):
        evaluate.evaluate(plain, run_dir=tmp_path / "plain", official=weights, progress=False)


def test_two_gloo_processes_shard_the_same_rows(run_dir, tmp_path):
    shutil.rmtree(run_dir / "eval")
    sharded = tmp_path / "sharded"
    shutil.copytree(run_dir, sharded)
    one_by_one = [*SETTINGS, "eval.batch_size=1"]  # the same computation as each shard's
    single = read(evaluate.evaluate(run_dir, overrides=one_by_one, progress=False))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "tests.toy_method", "evaluate", str(sharded), *one_by_one, "--no-progress"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list((sharded / "eval").glob("rows.part*"))
    rows = read(sharded / "eval" / "rows.csv")
    key = lambda r: (r["mask_setting"], r["image_id"])
    assert sorted(rows, key=key) == sorted(single, key=key)
