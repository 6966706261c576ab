"""The benchmark scripts run end to end at toy sizes and print the figures they promise."""

import re

import pytest

from bench.cli import main


def figures(line_start: str, output: str) -> list[float]:
    line = next(line for line in output.splitlines() if line.startswith(line_start))
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", line.split(":", 1)[1])]


@pytest.mark.parametrize("options", [[], ["--bf16", "--channels-last"]])
def test_model_speed_prints_step_inference_memory_and_flops(capsys, options):
    assert main(["benchmark", "model_speed", "--method", "srpnet", "--size", "64", "--batch", "2",
                 "--steps", "1", "--warmup", "0", *options]) == 0
    output = capsys.readouterr().out
    assert ("bf16 autocast" in output) == bool(options)
    seconds, per_second = figures("train step (all D and G updates)", output)
    assert seconds > 0 and per_second == pytest.approx(2 / seconds, rel=0.02)
    assert figures("inference", output)[0] > 0
    gflop, achieved, share, _, peak = figures("train step FLOPs", output)
    assert gflop > 0 and 0 < achieved and peak > 0 and share > 0


def test_data_speed_prints_mask_and_metric_timings(capsys, tmp_path):
    out = tmp_path / "data_speed.txt"
    assert main(["benchmark", "data_speed", "--size", "32,64", "--masks", "4", "--pairs", "8",
                 "--batch", "4", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("masks  bucket") for line in lines) == 12
    assert sum(" at 32²:" in line for line in lines) == sum(" at 64²:" in line for line in lines) == 6
    assert out.read_text().splitlines() == lines[:-1] and lines[-1] == f"wrote {out}"
    metrics = next(line for line in lines if line.startswith("metrics 8 pairs"))
    assert float(re.search(r"\(([\d.]+) pairs/s\)", metrics).group(1)) > 0
