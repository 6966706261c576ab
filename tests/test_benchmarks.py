"""The benchmark scripts run end to end at toy sizes and print the figures they promise."""

import json
import re

import pytest

from bench import methods
from bench.cli import main
from tests import toy_method


def figures(line_start: str, output: str) -> list[float]:
    line = next(line for line in output.splitlines() if line.startswith(line_start))
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", line.split(":", 1)[1])]


@pytest.mark.parametrize("options", [[], ["--bf16", "--channels-last"]])
def test_model_speed_prints_step_inference_memory_and_flops(capsys, tmp_path, options):
    assert main(["benchmark", "model_speed", "--method", "srpnet", "--size", "64", "--batch", "2",
                 "--steps", "1", "--warmup", "0", "--out", str(tmp_path), *options]) == 0
    output = capsys.readouterr().out
    assert ("bf16 autocast" in output) == bool(options)
    seconds, per_second = figures("train step (all D and G updates)", output)
    assert seconds > 0 and per_second == pytest.approx(2 / seconds, rel=0.02, abs=0.006)  # printed to 2 decimals
    assert figures("inference", output)[0] > 0
    gflop, achieved, share, _, peak = figures("train step FLOPs", output)
    assert gflop > 0 and 0 < achieved and peak > 0 and share > 0
    # What it printed is kept as data, with the environment, in a JSON record and a CSV.
    (record_path,) = tmp_path.glob("model_speed-*.json")
    record = json.loads(record_path.read_text())
    assert record["printed"] == [line for line in output.splitlines() if line]
    (result,) = record["results"]
    assert f"{result['train_step_s']:.3f} s" in output and result["precision"] == ("bfloat16" if options else "float32")
    assert record["environment"]["torch"] and record["environment"]["cpu_count"] > 0
    csv_lines = record_path.with_suffix(".csv").read_text().splitlines()
    assert len(csv_lines) == 2 and "train_images_per_s" in csv_lines[0] and "torch_threads" in csv_lines[0]


def test_eval_speed_without_a_model_splits_time_and_writes_its_figures(capsys, tmp_path):
    assert main(["benchmark", "eval_speed", "--size", "64", "--count", "6", "--batch-size", "3",
                 "--num-workers", "0", "--samples", "1", "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "method none" in output and "composite + metrics" in output
    (record_path,) = tmp_path.glob("eval_speed-*.json")
    results = json.loads(record_path.read_text())["results"]
    parts = {r["part"]: r["seconds"] for r in results}
    assert set(parts) == {"data loading (waiting on workers)", "inference", "composite + metrics",
                          "rows + sample PNGs", "total"}
    assert sum(v for k, v in parts.items() if k != "total") <= parts["total"] * 1.01


def test_data_speed_prints_mask_and_metric_timings(capsys, tmp_path):
    assert main(["benchmark", "data_speed", "--size", "32,64", "--masks", "4", "--pairs", "8",
                 "--batch", "4", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("masks  bucket") for line in lines) == 12
    assert sum(" at 32²:" in line for line in lines) == sum(" at 64²:" in line for line in lines) == 6
    (record_path,) = tmp_path.glob("data_speed-*.json")
    record = json.loads(record_path.read_text())
    assert record["printed"] == lines and len(record["results"]) == 13
    assert {r["size"] for r in record["results"] if r["measure"] == "masks"} == {32, 64}
    metrics = next(line for line in lines if line.startswith("metrics 8 pairs"))
    assert float(re.search(r"\(([\d.]+) pairs/s\)", metrics).group(1)) > 0


def test_reference_speed_times_every_training_free_method(capsys, tmp_path):
    assert main(["benchmark", "reference_speed", "--size", "64", "--count", "2", "--settings", "center",
                 "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (record_path,) = tmp_path.glob("reference_speed-*.json")
    results = json.loads(record_path.read_text())["results"]
    assert [r["method"] for r in results] == list(methods.TRAINING_FREE)
    assert all(r["images_per_s"] > 0 and r["images"] == 2 for r in results)
    assert sum("img/s" in line for line in lines) == len(methods.TRAINING_FREE)


def test_validation_cost_states_the_overhead_it_computes(capsys, tmp_path, monkeypatch):
    for name, entry in toy_method.ENTRIES.items():
        monkeypatch.setitem(methods.REGISTRY, name, entry)
    assert main(["benchmark", "validation_cost", "--method", "toy", "--size", "64", "--batch", "2",
                 "--paper-batch", "8", "--steps", "1", "--validate-every", "10", "--validate-count", "2",
                 "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    (record_path,) = tmp_path.glob("validation_cost-*.json")
    (result,) = json.loads(record_path.read_text())["results"]
    assert result["paper_step_s"] == pytest.approx(4 * result["step_s"])
    assert result["overhead_pct"] == pytest.approx(100 * result["validation_s"] / (10 * result["paper_step_s"]))
    assert "2 images × 2 settings: center, irregular_3" in output and "% of training time" in output


def test_learning_probe_validates_on_held_out_sources_never_the_test_split(capsys, tmp_path):
    """The probe that chose the learn recipe: its validation images are crops of held-out sources'
    train halves (no test-split image, no training source), and each row sits beside the floor."""
    import torch

    from bench.benchmarks import learning_probe
    from bench.data import datasets

    pool = {region.source for region in learning_probe.training_set(64, held_out=True).regions}
    assert len(pool) == 8 and not pool & set(learning_probe.VALIDATION_SOURCES)
    assert len(learning_probe.training_set(64, held_out=False)) == 12
    images = learning_probe.validation_images(64)
    test = datasets.open_dataset("sample", "test", size=64)
    assert len(images) == 8
    assert not any(torch.equal(image, test[i]["image"]) for image in images for i in range(len(test)))
    out = tmp_path / "probe.csv"
    assert main(["benchmark", "learning_probe", "--method", "pennet", "--steps", "2", "--every", "1",
                 "--batch", "2", "--zoom", "2", "--out", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("label,method,size,batch,lr")
    step, *_ = rows[2].split(",")[9:10]
    assert step == "2"
    center, meanfill, telea = (float(rows[2].split(",")[k]) for k in (11, 13, 14))
    assert 5 < center < 60 and meanfill < telea
