"""Released weights from the command line: `weights inspect`, `weights check`, and
`evaluate CONFIG --official` / `inpaint --official` end to end for each baseline's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from bench import runs, weights
from bench.cli import main
from tests import release_files
from tests.parity import needs, official_rows

needs_tsv = needs("pennet/generator_params.tsv", "picnet/E.tsv", "picnet/G.tsv")


def write_release(method: str, root: Path, seed: int) -> Path:
    """One release of `method` in its authors' format under root/<release name>/; returns what
    --official takes (the file, or PIC-Net's folder)."""
    if method == "pennet":
        folder = root / "pennet-celeba-hq"
        folder.mkdir(parents=True)
        return release_files.pennet_generator(folder / "gen_00030.pth", release_files.random_tensors(
            official_rows("pennet/generator_params.tsv"), seed), data_parallel=True)
    if method == "picnet":
        folder = root / "picnet-places2-random"
        folder.mkdir(parents=True)
        for n in "EG":
            release_files.picnet_network(folder / f"latest_net_{n}.pth", f"picnet/{n}.tsv", seed)
        return folder
    folder = root / "glcic-places2"
    folder.mkdir(parents=True)
    return release_files.glcic_t7(folder / "completionnet_places2.t7", release_files.glcic_modules(seed))


def config_file(tmp_path: Path, method: str) -> Path:
    path = tmp_path / f"{method}.yaml"
    path.write_text(yaml.safe_dump({
        "method": {"name": method},
        "data": {"dataset": "sample", "size": 64},
        "train": {"device": "cpu", "num_workers": 0},
        "eval": {"masks": ["center"], "count": 2, "batch_size": 2, "num_workers": 0, "samples_to_save": 1},
    }))
    return path


@needs_tsv
@pytest.mark.parametrize("method", ["pennet", "picnet", "glcic"])
def test_evaluate_and_inpaint_official_end_to_end(tmp_path, capsys, method):
    root = tmp_path / "weights"
    official = write_release(method, root, seed=1)
    runs_root = tmp_path / "runs"
    assert main(["evaluate", str(config_file(tmp_path, method)), "--official", str(official),
                 "--runs-root", str(runs_root), "--no-progress"]) == 0
    run = runs_root / f"{method}-sample-64px-seed0"
    manifest = runs.RunFolder(run).read_manifest()
    files = [official] if official.is_file() else sorted(official.iterdir())
    assert manifest.status == "finished"
    assert manifest.provenance == {"kind": "released", "format": manifest.provenance["format"],
                                      "release": official.parent.name if official.is_file() else official.name,
                                      "files": {f.name: weights.sha256(f) for f in files}}
    rows = (run / "eval" / "rows.csv").read_text().splitlines()
    label = "official:" + "+".join(f.name for f in files)
    assert len(rows) == 1 + 2 and all(f",{label}," in r for r in rows[1:])

    # the same evaluation by release name under --weights-root reopens the same run folder
    release = manifest.provenance["release"]
    assert main(["evaluate", str(config_file(tmp_path, method)), "--official", release,
                 "--weights-root", str(root), "--runs-root", str(runs_root), "--no-progress"]) == 0
    assert (run / "eval" / "rows.csv").read_text().splitlines() == rows  # nothing scored twice

    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "image.png")
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    outputs = []
    other = write_release(method, tmp_path / "other", seed=2)
    for weights_path, flag in ((official, "--official"), (other, "--checkpoint")):
        out = tmp_path / f"out{len(outputs)}.png"
        assert main(["inpaint", "--method", method, flag, str(weights_path), "--image", str(tmp_path / "image.png"),
                     "--mask", str(tmp_path / "mask.png"), "--out", str(out), "--size", "64"]) == 0
        outputs.append(np.asarray(Image.open(out)).astype(int))
    assert all((o[:16] == 90).all() for o in outputs)  # known pixels are the image's
    assert np.abs(outputs[0][16:48, 16:48] - outputs[1][16:48, 16:48]).max() > 0  # the weights were used


def test_a_file_that_does_not_load_leaves_no_run_folder(tmp_path, capsys):
    bad = tmp_path / "completionnet_places2.t7"
    bad.write_bytes(b"not torch7")
    runs_root = tmp_path / "runs"
    assert main(["evaluate", str(config_file(tmp_path, "glcic")), "--official", str(bad),
                 "--runs-root", str(runs_root), "--no-progress"]) == 2
    assert "completionnet_places2.t7: not a readable Torch7 file" in capsys.readouterr().err
    assert not runs_root.exists()


@needs_tsv
def test_weights_inspect_and_check(tmp_path, capsys):
    root = tmp_path / "weights"
    pennet = write_release("pennet", root, seed=0)
    write_release("picnet", root, seed=0)
    glcic = write_release("glcic", root, seed=0)
    assert main(["weights", "inspect", str(glcic)]) == 0
    out = capsys.readouterr().out
    assert "format   glcic-torch7 (method glcic)" in out and f"sha256 {weights.sha256(glcic)}" in out
    assert "completion: 6,072,131 parameters" in out
    assert "model.modules[1].weight" in out and "→  completion.conv1.weight" in out
    assert main(["weights", "inspect", str(pennet)]) == 0
    assert "module.dw_conv01.0.weight" in capsys.readouterr().out
    assert main(["weights", "inspect", str(root / "picnet-places2-random")]) == 0
    out = capsys.readouterr().out
    assert "network  E:" in out and "network  G:" in out and "weight_bar" in out

    (root / "glcic-celeba").mkdir()
    (root / "glcic-celeba" / "completionnet_celeba.t7").write_bytes(b"truncated")
    assert main(["weights", "check", "--weights-root", str(root)]) == 1
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines() if not line.startswith(" ")}
    assert lines["pennet-celeba-hq"] == lines["picnet-places2-random"] == lines["glcic-places2"] == "ok"
    assert lines["glcic-celeba"] == "MISMATCH" and lines["pennet-dtd"] == "missing"
    assert f"found gen_00030.pth  sha256 {weights.sha256(pennet)}" in out
    assert "download: https://github.com/satoshiiizuka/siggraph2017_inpainting" in out
    assert len(lines) == 4 + 8 + 3
