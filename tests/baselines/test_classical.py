"""The training-free references: evaluated like every method, nothing trained, and `telea`'s rows
are exactly cv2.inpaint on the evaluator's own inputs."""

import csv

import cv2
import numpy as np
import pytest
import torch

from bench import config as config_module
from bench import evaluate, methods, metrics, runs, train
from bench.data import masks
from bench.method import MethodSpec
from bench.setup import open_data

SETTINGS = {"data": {"size": 64}, "eval": {"masks": ["center", "irregular_3"], "count": 6, "batch_size": 4,
                                           "num_workers": 0, "samples_to_save": 1}}


def config(name, **extra):
    return config_module.from_dict({**SETTINGS, "method": {"name": name, **extra}})


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_training_free_is_a_property_of_the_entry():
    assert set(methods.TRAINING_FREE) == {"telea", "navier-stokes", "biharmonic", "mean-fill"}
    assert not any(methods.entry(n).training_free for n in methods.IN_PAPER_TABLES)


def test_telea_rows_equal_cv2_inpaint_on_the_same_inputs(tmp_path):
    cfg = config("telea")
    rows = read(evaluate.evaluate(cfg, run_dir=tmp_path / "telea", progress=False))
    assert {r["checkpoint"] for r in rows} == {evaluate.TRAINING_FREE_CHECKPOINT}
    manifest = runs.RunFolder(tmp_path / "telea").read_manifest()
    assert manifest.provenance == runs.TRAINING_FREE_PROVENANCE and manifest.status == "finished"
    dataset = open_data(cfg, "test")
    for setting in ("center", "irregular_3"):
        kind = masks.EvalSetting(setting)
        mask_set = evaluate.test_mask_set(cfg, kind, 6)
        ours = [r for r in rows if r["mask_setting"] == kind.kind]
        assert len(ours) == 6
        for i, row in enumerate(ours):
            image = dataset[i]["image"][None]
            hole = torch.from_numpy(mask_set[i][1])[None, None]
            given = metrics.quantize(image * (1 - hole))[0].numpy()
            direct = cv2.inpaint(given, mask_set[i][1].astype(np.uint8), 3, cv2.INPAINT_TELEA)
            prediction = torch.from_numpy(direct).float().permute(2, 0, 1)[None] / 255 * 2 - 1
            scores = metrics.score_batch(image, metrics.composite(image, hole, prediction))
            assert row["image_id"] == dataset[i]["id"]
            for name in metrics.METRICS:
                assert float(row[name]) == float(scores[name][0]), (setting, i, name)


def test_mean_fill_is_the_known_pixels_mean_colour():
    method = methods.create("mean-fill", MethodSpec(image_size=8))
    images = torch.rand(2, 3, 8, 8) * 2 - 1
    holes = torch.zeros(2, 1, 8, 8)
    holes[..., 2:5, 3:7] = 1
    out = method.inpaint(images * (1 - holes), holes)
    for k in range(2):
        known = images[k][:, holes[k, 0] == 0]
        assert torch.allclose(out[k][:, 2, 4], known.mean(dim=1), atol=1e-6)
    assert torch.equal(out * (1 - holes), images * (1 - holes))


def test_a_training_free_method_is_refused_by_the_trainer_before_any_folder(tmp_path):
    with pytest.raises(train.TrainingError, match="'mean-fill' is a training-free reference"):
        train.train(config("mean-fill"), run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_opencv_radius_is_an_option_checked_like_any_other():
    with pytest.raises(ValueError, match="option radius=0 is invalid; need an integer >= 1"):
        methods.create("telea", MethodSpec(options={"radius": 0}))
    assert "inpaintRadius 5 px" in methods.create("navier-stokes", MethodSpec(options={"radius": 5})).departures()[0]
