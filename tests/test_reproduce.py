"""End to end: the smoke profile from the command line to report.html, stage skipping, and
`inpaint` on one of its checkpoints. This is the path `./reproduce.sh` takes."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bench import metrics, profiles, reproduce, runs
from bench.records import rows as rows_record


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    result = _cli("reproduce", "smoke", "--runs-root", str(root / "runs"), "--reports-root",
                  str(root / "reports"), "--no-progress", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_smoke_profile_writes_every_run_tables_and_report(smoke):
    root, result = smoke
    run_dirs = sorted((root / "runs").iterdir())
    assert [d.name for d in run_dirs] == [
        "smoke-glcic-sample-64px", "smoke-mean-fill-sample-64px", "smoke-pennet-sample-64px",
        "smoke-picnet-sample-64px", "smoke-srpnet-baseline-sample-64px", "smoke-srpnet-sample-64px",
        "smoke-telea-sample-64px"]
    for run_dir in run_dirs:
        manifest = runs.RunFolder(run_dir).read_manifest()
        assert manifest.status == "finished" and manifest.profile == "smoke"
        rows = (run_dir / "eval" / "rows.csv").read_text().splitlines()
        assert len(rows) == 1 + 2 * 3  # header + 2 images × 3 mask settings
    folder = {d.name.removeprefix("smoke-").removesuffix("-sample-64px"): runs.RunFolder(d) for d in run_dirs}
    for name in ("telea", "mean-fill"):  # evaluated only: no training, no checkpoint
        assert folder[name].read_manifest().provenance == runs.TRAINING_FREE_PROVENANCE
        assert not runs.list_checkpoints(folder[name]) and not folder[name].losses_file.exists()
    shared = folder["srpnet-baseline"].read_manifest().provenance  # PEN-Net's network, trained once
    assert shared["kind"] == "shared" and shared["run"] == "smoke-pennet-sample-64px"
    assert not folder["srpnet-baseline"].checkpoints.exists()
    scores = {n: [(r["image_id"], r["mask_id"], *(r[m] for m in metrics.METRICS))
                  for r in rows_record.read(folder[n].rows_file)] for n in ("pennet", "srpnet-baseline")}
    assert scores["pennet"] == scores["srpnet-baseline"]
    steps = [line.split(",")[0] for line in folder["srpnet"].validation_file.read_text().splitlines()[1:]]
    assert steps == ["2", "2", "3", "3"]  # every 2 steps and the last, centre and irregular_3
    report = root / "reports" / "smoke" / "report.html"
    html = report.read_text()
    assert report.is_file() and "not comparable" in html
    assert "Learning curves" in html and "sample: validation PSNR during training" in html
    assert "Centre mask, mean PSNR: the best trained model" in html and "training-free reference" in html
    assert (root / "reports" / "smoke" / "tables" / "table2.csv").is_file()
    assert "report:" in result.stdout and "psnr" in result.stdout


def test_second_call_skips_finished_stages(smoke):
    root, _ = smoke
    result = _cli("reproduce", "smoke", "--runs-root", str(root / "runs"), "--reports-root",
                  str(root / "reports"), "--only", "train", "--no-progress", cwd=root)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("finished already, skipped") == 4
    assert result.stdout.count("training-free reference, nothing to train") == 2
    assert "train smoke-srpnet-baseline-sample-64px: the same network and settings as smoke-pennet" in result.stdout


def test_inpaint_one_image_with_a_run_checkpoint(smoke, tmp_path):
    root, _ = smoke
    checkpoint = runs.latest_checkpoint(runs.RunFolder(root / "runs" / "smoke-srpnet-sample-64px"))
    Image.fromarray(np.full((80, 100, 3), 90, np.uint8)).save(tmp_path / "image.png")
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 200  # another size and not binary: both warned about
    Image.fromarray(mask).save(tmp_path / "mask.png")
    result = _cli("inpaint", "--method", "srpnet", "--checkpoint", str(checkpoint), "--image",
                  str(tmp_path / "image.png"), "--mask", str(tmp_path / "mask.png"),
                  "--out", str(tmp_path / "out.png"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resized (nearest)" in result.stderr and "thresholded at 0.5" in result.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (80, 100, 3)  # the photo's own size, not the 64² working size
    hole = np.asarray(Image.fromarray(mask).resize((100, 80), Image.Resampling.NEAREST)) > 127
    assert (out[~hole] == 90).all() and not (out[hole] == 90).all()  # known pixels are the photo's own
    wrong = _cli("inpaint", "--method", "glcic", "--checkpoint", str(checkpoint), "--image",
                 str(tmp_path / "image.png"), "--mask", str(tmp_path / "mask.png"), "--out", str(tmp_path / "o.png"),
                 cwd=tmp_path)
    assert wrong.returncode == 2 and "holds method 'srpnet'" in wrong.stderr


def test_nproc_trains_and_evaluates_under_torchrun(tmp_path):
    result = _cli("reproduce", "smoke", "--methods", "pennet", "--nproc", "2", "--runs-root",
                  str(tmp_path / "runs"), "--reports-root", str(tmp_path / "reports"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "runs" / "smoke-pennet-sample-64px"
    manifest = runs.RunFolder(run_dir).read_manifest()
    assert manifest.status == "finished" and manifest.world_size == 2
    rows = (run_dir / "eval" / "rows.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 3 and not list((run_dir / "eval").glob("rows.part*"))


def test_warm_up_estimate_is_measured_for_every_run(capsys):
    plan = profiles.plan("smoke", methods=["pennet", "glcic"])
    seconds = reproduce.estimate(plan, steps=1)
    out = capsys.readouterr().out
    assert seconds > 0 and out.count("s/step") == 2 and "estimate for all training" in out
