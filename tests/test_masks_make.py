"""`masks make` refuses bad options in one line before writing anything, the generator's
rejection sampling is bounded (an error naming the bucket and size), and bounding it changed
no mask: the hashes below were taken from the unbounded generator."""

import hashlib
import subprocess
import sys

import pytest

from bench.data import masks

UNBOUNDED_256 = {  # sha256[:16] of generated_mask(256, bucket, 0, i) for i = 0, 1, 1999
    0: ["555c0d56a52c0694", "30451e69b7798275", "039e6e95995c55eb"],
    1: ["92fe116d9da2f98e", "3735912c0f93ffee", "20e24a987eda5c4a"],
    2: ["96641caca677a79d", "9e68a0125edbe17b", "72b914ec27746016"],
    3: ["0c8c77d8820a8a20", "6a9b2a3df05f6079", "08a3033fd22d2887"],
    4: ["5ff709a8d54aa597", "57ea55e3ba4f157b", "121b150a57d273d3"],
    5: ["17cb45143fae816b", "7aefacf7137d7c49", "bd535afb0392d2db"],
}
UNBOUNDED_64 = ["8959301014caa886", "6a99c0d5e0aac14e", "db295e8b93e59629", "484a16f66f0ed295",
                "175f5212e063f1a2", "55249bdbb618d88d"]  # mask 7 of each bucket at 64²


def _masks_make(out, *options):
    return subprocess.run([sys.executable, "-m", "bench", "masks", "make", str(out), *options],
                          capture_output=True, text=True, timeout=120)


def _digest(mask):
    return hashlib.sha256(mask.tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("options, named", [(["--size", "0"], "--size 0"), (["--size", "-64"], "--size -64"),
                                            (["--count", "0"], "--count 0"), (["--count", "-3"], "--count -3")])
def test_bad_size_or_count_is_one_line_and_writes_nothing(tmp_path, options, named):
    result = _masks_make(tmp_path / "new" / "set", *options)  # --size 0 used to loop for ever
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and named in result.stderr and "positive" in result.stderr
    assert not (tmp_path / "new").exists()


def test_a_bucket_that_cannot_be_filled_is_named_and_nothing_is_left(tmp_path):
    result = _masks_make(tmp_path / "set", "--size", "2", "--count", "1")  # one pixel is 1/4 of a 2×2 mask
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "cannot fill bucket [0.01,0.1] at 2×2" in result.stderr
    assert not (tmp_path / "set").exists()


def test_an_unfillable_bucket_leaves_an_existing_folder_as_it_was(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(masks.MaskError, match=r"bucket \[0.01,0.1\] at 3×3"):
        masks.make_mask_set(tmp_path, 3, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_bounding_the_rejection_sampling_changed_no_mask():
    for bucket, expected in UNBOUNDED_256.items():
        assert [_digest(masks.generated_mask(256, bucket, 0, i)) for i in (0, 1, 1999)] == expected
    assert [_digest(masks.generated_mask(64, b, 0, 7)) for b in range(6)] == UNBOUNDED_64


def test_small_sizes_still_fill_every_bucket():
    for size in (4, 8, 16):
        for bucket in range(len(masks.BUCKETS)):
            assert masks.in_bucket(masks.hole_ratio(masks.generated_mask(size, bucket, 0, 0)), bucket)
