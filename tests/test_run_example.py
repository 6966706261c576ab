"""The run config to start from: `inpaint-bench config example` prints a commented YAML that
names every key of every section, trains as it is, and says where it differs from the defaults;
`train` given a profile says it is one and what to do instead."""

import dataclasses
import subprocess
import sys

import pytest
import yaml

from bench import config, profiles

EXAMPLE = subprocess.run([sys.executable, "-m", "bench", "config", "example"], capture_output=True, text=True,
                         check=True).stdout


def test_the_example_sets_every_key_of_every_section():
    raw = yaml.safe_load(EXAMPLE)
    sections = {f.name: f.type for f in dataclasses.fields(config.Config)}
    assert set(raw) == set(sections)
    for section in dataclasses.fields(config.Config):
        keys = {f.name for f in dataclasses.fields(section.default_factory())}
        assert set(raw[section.name]) == keys, section.name


def test_every_value_that_differs_from_the_default_says_so():
    loaded = config.from_dict(yaml.safe_load(EXAMPLE), source="example")
    defaults = config.Config()
    lines = {line.split(":")[0].strip(): line for line in EXAMPLE.splitlines() if not line.startswith("#")}
    differing = [name for section in dataclasses.fields(config.Config)
                 for name, value in dataclasses.asdict(getattr(loaded, section.name)).items()
                 if value != dataclasses.asdict(getattr(defaults, section.name))[name]]
    assert differing  # the example is small on purpose
    for name in differing:
        assert "default" in lines[name] or "null:" in lines[name], lines[name]


def test_the_example_trains_as_written(tmp_path):
    (tmp_path / "run.yaml").write_text(EXAMPLE)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "train", "run.yaml", "train.iterations=2", "train.batch_size=2",
         "train.checkpoint_every=2", "--runs-root", "runs", "--no-progress"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs" / "my-first-run" / "checkpoints" / "step_0000002.pt").is_file()


@pytest.mark.parametrize("name", profiles.names())
def test_train_given_a_profile_says_it_is_one_and_creates_nothing(tmp_path, name):
    result = subprocess.run([sys.executable, "-m", "bench", "train", str(profiles.CONFIG_DIR / f"{name}.yaml"),
                             "--runs-root", str(tmp_path / "runs")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"this is a profile (a plan of runs), not a run config: run `./reproduce.sh {name}`" in result.stderr
    assert "copy its `base`" in result.stderr and "config example" in result.stderr
    assert not (tmp_path / "runs").exists()
