"""The floor in the report: each run's level per setting, the banner's sentence computed from the
rows (with its link to what longer training does, for a smoke-scale profile only), and the
learning-curve figure."""

import json
import re
from pathlib import Path

import pandas as pd

from bench import profiles, reproduce
from bench.report import build_report, figures, floor
from bench.report.build import LEARNING_HREF, LEARNING_PAGE
from bench.report.results import collect
from bench.runs import TRAINING_FREE_PROVENANCE, RunFolder


def rows(run_id, centre, irregular):
    return [{"run_id": run_id, "mask_setting": "center", "bucket": "all", "psnr": v} for v in centre] + [
        {"run_id": run_id, "mask_setting": "irregular", "bucket": "(0.3,0.4]", "psnr": v} for v in irregular]


def test_levels_are_each_runs_mean_per_setting():
    frame = pd.DataFrame(rows("a", [20.0, 22.0], [18.0]) + rows("b", [25.0], []))
    assert floor.levels(frame) == {"a": {"center": 21.0, "irregular_3": 18.0}, "b": {"center": 25.0}}


def test_the_sentence_says_where_the_trained_runs_stand():
    found = {"s": {"center": 19.41}, "p": {"center": 22.10}, "m": {"center": 24.29}, "t": {"center": 25.22}}
    runs = [("s", "srpnet", False), ("p", "pennet", False), ("m", "mean-fill", True), ("t", "telea", True)]
    assert floor.floor_sentence(runs, found) == (
        "Centre mask, mean PSNR: the best trained model (pennet, 22.10 dB) is 2.19 dB below the weakest "
        "training-free reference (mean-fill, 24.29 dB) and 3.12 dB below the best (telea, 25.22 dB); "
        "srpnet, the paper's method, is 4.88 dB below the weakest (19.41 dB).")
    found["s"]["center"] = 24.5
    assert floor.floor_sentence(runs, found).startswith(
        "Centre mask, mean PSNR: the best trained model (srpnet, 24.50 dB) is 0.21 dB above the weakest")
    assert floor.floor_sentence(runs[:2], found) is None  # no reference: nothing to say


def test_learning_curve_figure_draws_curves_and_levels():
    curve = pd.DataFrame({"step": [10, 20, 10, 20], "setting": ["center", "center", "irregular_3", "irregular_3"],
                          "psnr": [18.0, 19.0, 17.0, 18.5]})
    png = figures.learning_curve_figure([("run", "srpnet", curve)],
                                        [figures.Level("mean-fill", "mean-fill", {"center": 24.3})], "sample")
    assert png.startswith(b"\x89PNG")


def test_the_banner_links_to_longer_training_for_a_profile_not_comparable_only(tmp_path, run_factory,
                                                                              monkeypatch):
    # the profile's own flag decides, whatever its name: "mine" is not a built-in profile
    monkeypatch.setattr(profiles, "CONFIG_DIR", tmp_path / "profiles")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.yaml").write_text("comparable: false\ndatasets: [sample]\nmethods: [srpnet]\n")
    runs = [run_factory(tmp_path / "runs", f"mine-{m}", m, "sample", quality=q, profile="mine",
                        center_only=True, images=2, samples=1) for m, q in (("srpnet", 0.5), ("mean-fill", 1.0))]
    RunFolder(runs[1]).update_manifest(provenance=dict(TRAINING_FREE_PROVENANCE))
    html = build_report(runs, tmp_path / "report", n_boot=50).read_text()
    banner = re.search(r'<div class="banner" role="alert" data-banner="floor">(.*?)</div>', html, re.S)
    assert banner, "no floor banner"
    assert banner.group(1).startswith("Centre mask, mean PSNR: the best trained model (srpnet, ")
    assert (f'<a href="{LEARNING_HREF}">What longer training does</a> ({LEARNING_PAGE} in the '
            "inpaint-bench checkout).") in banner.group(1)
    # the link works from where reproduce.sh writes the report: results/reports/<profile>/report.html
    where = Path("/checkout") / reproduce.REPORTS_ROOT / "quick"
    assert (where / LEARNING_HREF).resolve() == (Path("/checkout") / LEARNING_PAGE).resolve()
    (tmp_path / "profiles" / "mine.yaml").write_text("comparable: true\ndatasets: [sample]\nmethods: [srpnet]\n")
    results = json.loads(collect(runs, tmp_path / "comparable", n_boot=50).results_file.read_text())
    assert results["floor"] is None and not any("Centre mask" in b for b in results["banners"])
