"""The paper profile's baseline protocol end to end on a tiny Facade folder: a missing release
stops before any training; --train-missing trains that baseline with its authors' recipe; the
report says where each number came from."""

import numpy as np
import pytest
from PIL import Image

from bench import reproduce, runs

TINY = ["data.size=64", "train.iterations=2", "train.batch_size=2", "train.checkpoint_every=2",
        "train.sample_every=2", "train.log_every=1", "train.num_workers=0", "eval.count=1",
        "eval.batch_size=1", "eval.num_workers=0", "eval.masks=[center]", "eval.samples_to_save=1"]


@pytest.fixture()
def facade(tmp_path):
    folder = tmp_path / "data" / "facade" / "base"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (72, 80, 3), dtype=np.uint8)).save(folder / f"cmp_b{i:04d}.jpg")
    return tmp_path


def _reproduce(root, methods, **kwargs):
    return reproduce.reproduce("paper", data_root=root / "data", datasets_filter=["facade"],
                               methods_filter=methods, overrides=TINY + [f"data.cache_dir={root / 'cache'}"],
                               runs_root=root / "runs", reports_root=root / "reports", progress=False,
                               warmup=False, weights_root=root / "weights", **kwargs)


def test_a_missing_release_stops_before_any_training(facade):
    with pytest.raises(reproduce.ReproduceError) as caught:
        _reproduce(facade, ["srpnet", "pennet"])
    message = str(caught.value)
    assert "nothing was trained" in message and "--train-missing" in message
    assert str(facade / "weights" / "pennet-facade" / "gen_*.pth") in message  # the file
    assert "github.com/researchmm/PEN-Net-for-Inpainting" in message  # where to get it
    assert not (facade / "runs").exists()  # SRPNet, first in the plan, was not trained


def test_train_missing_trains_the_baseline_with_its_authors_recipe(facade, capsys):
    report = _reproduce(facade, ["pennet"], train_missing=True)
    out = capsys.readouterr().out
    assert "--train-missing: training pennet on facade with the authors' recipe instead" in out
    run_dir = facade / "runs" / "paper-pennet-facade-64px"
    manifest = runs.RunFolder(run_dir).read_manifest()
    assert manifest.status == "finished"
    assert manifest.provenance == {"kind": "trained", "recipe": "authors"}
    config = runs.RunFolder(run_dir).read_config()
    assert (config.data.train_masks, config.data.mask_augment, config.data.color_jitter) == ("square", True, True)
    html = report.read_text()
    assert "trained — authors&#39; recipe" in html or "trained — authors' recipe" in html
    assert 'id="baselines"' in html and "We used the officially proposed pretraining model for testing." in html
    assert "its release pennet-facade was missing: trained instead, --train-missing" in html


def test_a_present_release_is_evaluated_from_its_file_and_reported_so(facade):
    from bench import methods
    from bench.method import MethodSpec, sha256
    from tests.release_files import pennet_generator

    generator = methods.create("pennet", MethodSpec(64, dataset="facade")).networks["generator"]
    folder = facade / "weights" / "pennet-facade"
    folder.mkdir(parents=True)
    weights = pennet_generator(folder / "gen_00042.pth", generator.state_dict(), data_parallel=True)
    report = _reproduce(facade, ["pennet"])
    assert not (facade / "runs" / "paper-pennet-facade-64px").exists()  # nothing trained
    run_dir = facade / "runs" / "paper-pennet-facade-64px-released"
    provenance = runs.RunFolder(run_dir).read_manifest().provenance
    assert provenance["kind"] == "released" and provenance["release"] == "pennet-facade"
    assert provenance["files"] == {"gen_00042.pth": sha256(weights)}
    assert (run_dir / "eval" / "rows.csv").is_file()
    html = report.read_text()
    assert f"released weights pennet-facade (gen_00042.pth, sha256 {sha256(weights)[:12]})" in html
