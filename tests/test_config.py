"""bench.config: typed loading, clear errors, overrides, and the YAML round trip."""

import subprocess
import sys

import pytest
import yaml

from bench import config, methods
from bench.config import Config, ConfigError


def test_defaults_resolve_and_round_trip_through_yaml():
    cfg = config.from_dict({"method": {"name": "pennet"}, "data": {"dataset": "dtd"}})
    assert cfg.run_id == "pennet-dtd-256px-seed0"
    assert cfg.eval.masks == config.PAPER_MASK_SETTINGS and len(cfg.eval.masks) == 7
    loaded = config.from_dict(yaml.safe_load(config.dump(cfg)))
    assert loaded == config.resolve(cfg)
    assert loaded.run.id == "pennet-dtd-256px-seed0"


def test_load_reads_a_file_and_applies_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  iterations: 100\nmethod:\n  name: srpnet\n")
    cfg = config.load(path, ["train.iterations=10", "method.options.residual_blocks=false",
                             "eval.count=null", "eval.masks=[center, irregular_5]"])
    assert cfg.train.iterations == 10
    assert cfg.method.options == {"residual_blocks": False}
    assert cfg.eval.count is None
    assert cfg.eval.masks == ("center", "irregular_5")


@pytest.mark.parametrize("raw, message", [
    ({"train": {"batchsize": 8}}, "train.batchsize: unknown key; did you mean batch_size?"),
    ({"trian": {}}, "trian: unknown key; did you mean train?"),
    ({"data": {"zzz": 1}}, "data.zzz: unknown key; known: dataset, root, size"),
    ({"train": {"batch_size": 0}}, "train.batch_size: bad value 0; must be at least 1"),
    ({"train": {"iterations": "ten"}}, "train.iterations: bad value 'ten'; expected an integer"),
    ({"train": {"iterations": True}}, "train.iterations: bad value True; expected an integer"),
    ({"train": {"bf16": "yes"}}, "train.bf16: bad value 'yes'; expected true or false"),
    ({"train": {"device": "tpu"}}, "train.device: bad value 'tpu'; expected auto | cpu | cuda"),
    ({"data": {"train_masks": "round"}}, "data.train_masks: bad value 'round'"),
    ({"eval": {"masks": ["irregular_6"]}}, "eval.masks: bad value ['irregular_6']"),
    ({"eval": {"masks": []}}, "eval.masks: bad value []"),
    ({"method": {"options": [1]}}, "method.options: bad value [1]; expected a mapping"),
    ({"train": 3}, "train: expected a mapping, got 3"),
])
def test_errors_name_the_key_and_the_value(raw, message):
    with pytest.raises(ConfigError) as caught:
        config.from_dict(raw, source="my.yaml")
    assert str(caught.value).startswith("my.yaml: " + message)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        config.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        config.load(bad)


@pytest.mark.parametrize("override, message", [
    ("train.iterations", "expected dotted.key=value"),
    ("train.iterations.x=1", "train.iterations is not a section"),
    ("train.iterations=[1", "is not valid YAML"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        config.apply_overrides({"train": {"iterations": 3}}, [override])


def test_unknown_override_key_is_caught_when_built():
    raw = config.apply_overrides({}, ["train.iteration=5"])
    with pytest.raises(ConfigError, match="train.iteration: unknown key; did you mean iterations"):
        config.from_dict(raw)


def test_differences_lists_dotted_keys():
    a = config.to_dict(Config())
    b = config.to_dict(config.from_dict({"train": {"seed": 1}, "method": {"options": {"x": 1}}}))
    assert config.differences(a, b) == ["method.options.x", "run.id", "train.seed"]


def test_the_default_method_is_the_registry_reference_and_loads_no_model():
    assert Config().method.name == methods.REFERENCE
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, bench.config; print(sorted({m.split('.')[0] for m in sys.modules}))"],
        capture_output=True, text=True, check=True).stdout
    assert "'models'" not in loaded and "'baselines'" not in loaded
