"""`inpaint` on photos the project never saw: the photo comes back at its own size with its own
pixels outside the hole, the output format follows the extension, masks that do not fit are
warned about, a folder is inpainted with one loaded model, and bad outputs are one clear line.

The toy method (tests/toy_method.py) stands in for a real network: `python -m tests.toy_method
inpaint …` is the real command line with the toy registered. The srpnet path is covered by
tests/test_reproduce.py on a smoke run's checkpoint.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import inpaint, methods, runs, train
from bench.method import MethodSpec
from tests import toy_method

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, cwd, umask=None):
    return subprocess.run([sys.executable, "-m", "tests.toy_method", "inpaint", "--method", "toy", *args],
                          capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)), timeout=120)


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """A toy network's plain state dict, as an official checkpoint; the toy works at --size."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("official") / "toy.pth"
    torch.save(toy_method.build(MethodSpec(image_size=32)).networks["g"].state_dict(), path)
    return path


@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory):
    """The last checkpoint of a trained 32² toy run."""
    with toy_method.registered():
        run_dir = tmp_path_factory.mktemp("run") / "tiny"
        train.train(toy_method.tiny_config(), run_dir=run_dir, progress=False)
    return runs.latest_checkpoint(runs.RunFolder(run_dir))


def photo(path, width, height, seed=0):
    """A random RGB photo whose values include 1–63 (where truncation used to lose 1)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def hole_mask(path, width, height, box):
    mask = np.zeros((height, width), np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    Image.fromarray(mask).save(path)
    return mask > 0


def read(path):
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("width, height", [(120, 40), (20, 28), (32, 32)])
def test_output_has_the_photos_size_and_its_known_pixels(tmp_path, official, width, height):
    pixels = photo(tmp_path / "photo.png", width, height)
    hole = hole_mask(tmp_path / "mask.png", width, height, (width // 4, height // 4, width // 2, height // 2))
    result = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "mask.png",
                  "--out", "out.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = read(tmp_path / "out.png")
    assert out.shape == (height, width, 3)
    assert np.array_equal(out[~hole], pixels[~hole])  # every known pixel, exactly
    assert not np.array_equal(out[hole], pixels[hole])  # the hole was filled by the model
    assert ("the model runs at 32×32" in result.stderr) == ((width, height) != (32, 32))


def test_hole_pixels_of_the_photo_never_reach_the_output(tmp_path, official):
    pixels = photo(tmp_path / "a.png", 90, 50)
    hole = hole_mask(tmp_path / "mask.png", 90, 50, (30, 10, 60, 35))
    other = pixels.copy()
    other[hole] = 255 - other[hole]  # the object the user wants removed
    Image.fromarray(other).save(tmp_path / "b.png")
    for name in ("a", "b"):
        result = _cli("--checkpoint", str(official), "--size", "32", "--image", f"{name}.png", "--mask", "mask.png",
                      "--out", f"out-{name}.png", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert np.array_equal(read(tmp_path / "out-a.png"), read(tmp_path / "out-b.png"))


def test_all_black_mask_returns_the_input_bit_for_bit_and_all_white_warns(tmp_path, official):
    pixels = photo(tmp_path / "photo.png", 40, 30)
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "black.png")
    Image.fromarray(np.full((30, 40), 255, np.uint8)).save(tmp_path / "white.png")
    black = _cli("--checkpoint", str(official), "--image", "photo.png", "--mask", "black.png", "--out", "same.png",
                 cwd=tmp_path)
    assert black.returncode == 0 and "has no hole (all black)" in black.stderr
    assert np.array_equal(read(tmp_path / "same.png"), pixels)
    white = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "white.png",
                 "--out", "all.png", cwd=tmp_path)
    assert white.returncode == 0 and "all hole (all white)" in white.stderr
    assert read(tmp_path / "all.png").shape == (30, 40, 3)


def test_a_mask_of_another_size_or_aspect_is_warned_about(tmp_path, official):
    photo(tmp_path / "photo.png", 80, 40)
    hole_mask(tmp_path / "half.png", 40, 20, (5, 5, 20, 15))  # same aspect ratio, half the size
    hole_mask(tmp_path / "square.png", 32, 32, (5, 5, 20, 20))
    half = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "half.png",
                "--out", "a.png", cwd=tmp_path)
    assert half.returncode == 0 and "mask is 40×20, the image 80×40: resized (nearest)" in half.stderr
    assert "aspect ratio" not in half.stderr
    square = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "square.png",
                  "--out", "b.png", cwd=tmp_path)
    assert square.returncode == 0 and "its aspect ratio differs (1 against 2), so it is stretched" in square.stderr


@pytest.mark.parametrize("suffix, format_name, exact", [(".jpg", "JPEG", False), (".JPEG", "JPEG", False),
                                                        (".webp", "WEBP", True), (".png", "PNG", True)])
def test_the_output_format_follows_the_extension(tmp_path, official, suffix, format_name, exact):
    pixels = photo(tmp_path / "photo.png", 48, 36)
    hole = hole_mask(tmp_path / "mask.png", 48, 36, (10, 10, 20, 20))
    result = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "mask.png",
                  "--out", f"out{suffix}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / f"out{suffix}") as written:
        assert written.format == format_name and written.size == (48, 36)
    assert np.array_equal(read(tmp_path / f"out{suffix}")[~hole], pixels[~hole]) == exact


@pytest.mark.parametrize("out, message", [("out.gif", "--out out.gif: cannot write .gif"),
                                          ("out", "cannot write a file without extension"),
                                          (".", "--out . is a directory")])
def test_an_unusable_out_is_one_line_and_writes_nothing(tmp_path, official, out, message):
    photo(tmp_path / "photo.png", 40, 30)
    hole_mask(tmp_path / "mask.png", 40, 30, (5, 5, 10, 10))
    before = sorted(tmp_path.iterdir())
    result = _cli("--checkpoint", str(official), "--image", "photo.png", "--mask", "mask.png", "--out", out,
                  cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr
    assert ".tmp" not in result.stderr and sorted(tmp_path.iterdir()) == before


def test_size_with_a_run_checkpoint_is_refused_and_without_it_the_run_size_is_used(tmp_path, run_checkpoint):
    pixels = photo(tmp_path / "photo.png", 70, 45)
    hole = hole_mask(tmp_path / "mask.png", 70, 45, (20, 10, 40, 30))
    refused = _cli("--checkpoint", str(run_checkpoint), "--size", "128", "--image", "photo.png", "--mask",
                   "mask.png", "--out", "out.png", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "--size 128:" in refused.stderr and "run checkpoint of 32×32" in refused.stderr
    assert not (tmp_path / "out.png").exists()
    result = _cli("--checkpoint", str(run_checkpoint), "--image", "photo.png", "--mask", "mask.png",
                  "--out", "out.png", cwd=tmp_path)
    assert result.returncode == 0 and "the model runs at 32×32" in result.stderr
    out = read(tmp_path / "out.png")
    assert out.shape == (45, 70, 3) and np.array_equal(out[~hole], pixels[~hole])


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_the_output_follows_the_umask(tmp_path, official, umask):
    photo(tmp_path / "photo.png", 40, 30)
    hole_mask(tmp_path / "mask.png", 40, 30, (5, 5, 10, 10))
    result = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "mask.png",
                  "--out", "out.png", cwd=tmp_path, umask=umask)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_every_atomic_write_follows_the_umask(tmp_path):
    previous = os.umask(0o002)
    try:
        runs.write_text(tmp_path / "report.html", "<p>")
    finally:
        os.umask(previous)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o664


def test_a_folder_of_images_is_matched_by_name_and_written_beside_each_other(tmp_path, official):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    sizes = {"wide": (90, 30), "tall": (24, 60)}
    known = {}
    for seed, (name, (width, height)) in enumerate(sizes.items()):
        pixels = photo(tmp_path / "images" / f"{name}.png", width, height, seed)
        hole = hole_mask(tmp_path / "masks" / f"{name}.png", width, height, (4, 4, 14, 14))
        known[name] = (pixels, hole)
    hole_mask(tmp_path / "masks" / "extra.png", 8, 8, (1, 1, 2, 2))
    result = _cli("--checkpoint", str(official), "--size", "32", "--image", "images", "--mask", "masks",
                  "--out", "outs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote 2 images to outs" in result.stdout and "extra.png: no image of that name" in result.stderr
    for name, (pixels, hole) in known.items():
        out = read(tmp_path / "outs" / f"{name}.png")
        assert out.shape == pixels.shape and np.array_equal(out[~hole], pixels[~hole])


def test_a_folder_loads_the_model_once(tmp_path, official, monkeypatch):
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    for name in ("a", "b", "c"):
        photo(tmp_path / "images" / f"{name}.png", 40, 30)
        hole_mask(tmp_path / "masks" / f"{name}.png", 40, 30, (5, 5, 15, 15))
    monkeypatch.setitem(methods.REGISTRY, "toy", toy_method.ENTRIES["toy"])
    loads = []
    load = inpaint.load_method
    monkeypatch.setattr(inpaint, "load_method", lambda *a: loads.append(a) or load(*a))
    written = inpaint.inpaint_files("toy", official, tmp_path / "images", tmp_path / "masks", tmp_path / "out", 32)
    assert [p.name for p in written] == ["a.png", "b.png", "c.png"] and len(loads) == 1


def test_an_image_without_a_mask_is_named_before_anything_is_loaded(tmp_path):
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    photo(tmp_path / "images" / "a.png", 20, 20)
    photo(tmp_path / "images" / "b.jpg", 20, 20)
    hole_mask(tmp_path / "masks" / "a.png", 20, 20, (5, 5, 10, 10))
    result = _cli("--checkpoint", "missing.pth", "--image", "images", "--mask", "masks", "--out", "out",
                  cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no mask named like 1 image(s)" in result.stderr and "b.jpg" in result.stderr
    assert not (tmp_path / "out").exists()


def test_help_says_what_happens_to_size_and_aspect_ratio(tmp_path):
    result = _cli("--help", cwd=tmp_path)
    text = " ".join(result.stdout.split())
    assert result.returncode == 0
    assert "keeps the image's own size, aspect ratio and pixels outside the hole" in text
    assert "stretched to a square" in text and "a run checkpoint runs at its own size and refuses another" in text


def test_an_rgba_photo_keeps_its_alpha_channel_as_it_was(tmp_path, official):
    pixels = photo(tmp_path / "rgb.png", 40, 30)
    alpha = np.random.default_rng(1).integers(0, 256, (30, 40), dtype=np.uint8)
    alpha[:5] = 0  # fully transparent rows keep their colours too
    Image.fromarray(np.dstack([pixels, alpha])).save(tmp_path / "photo.png")
    hole = hole_mask(tmp_path / "mask.png", 40, 30, (10, 10, 25, 20))
    for out in ("out.png", "out.webp"):
        result = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "mask.png",
                      "--out", out, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"photo.png has an alpha channel: {out} keeps it as it was" in result.stderr
        with Image.open(tmp_path / out) as written:
            assert written.mode == "RGBA"
            kept = np.asarray(written)
        assert np.array_equal(kept[..., 3], alpha)  # the hole's alpha too: a known value
        assert np.array_equal(kept[..., :3][~hole], pixels[~hole])
    jpeg = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "mask.png",
                "--out", "out.jpg", cwd=tmp_path)
    assert jpeg.returncode == 0 and "which JPEG cannot hold: out.jpg drops it" in jpeg.stderr


@pytest.mark.parametrize("out", ["photo.png", "./photo.png", "mask.png"])
def test_an_output_that_is_an_input_is_refused_unless_forced(tmp_path, official, out):
    photo(tmp_path / "photo.png", 40, 30)
    hole_mask(tmp_path / "mask.png", 40, 30, (5, 5, 15, 15))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    refused = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "mask.png",
                   "--out", out, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"--out {Path(out)} is the --{Path(out).stem.replace('photo', 'image')} file" in refused.stderr
    assert "it would be overwritten" in refused.stderr and "--force" in refused.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    forced = _cli("--checkpoint", str(official), "--size", "32", "--image", "photo.png", "--mask", "mask.png",
                  "--out", out, "--force", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / out).read_bytes() != before[Path(out).name]


@pytest.mark.parametrize("case, message", [
    ("missing image", "--image gone.png: no such file or folder"),
    ("corrupt image", "--image photo.png: cannot decode image"),
    ("out under a file", "--out photo.png/out.png: photo.png is a file, not a folder"),
])
def test_unusable_inputs_and_outputs_are_named_before_the_model_loads(tmp_path, official, monkeypatch, case,
                                                                        message):
    photo(tmp_path / "photo.png", 40, 30)
    hole_mask(tmp_path / "mask.png", 40, 30, (5, 5, 15, 15))
    image, out = "photo.png", "out.png"
    if case == "missing image":
        image = "gone.png"
    elif case == "corrupt image":
        (tmp_path / "photo.png").write_bytes(b"not a picture")
    else:
        out = "photo.png/out.png"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(methods.REGISTRY, "toy", toy_method.ENTRIES["toy"])
    loads = []
    monkeypatch.setattr(inpaint, "load_method", lambda *a: loads.append(a))
    with pytest.raises(inpaint.InpaintError, match=message.replace(".", r"\.")):
        inpaint.inpaint_files("toy", official, Path(image), Path("mask.png"), Path(out), 32)
    assert loads == []
