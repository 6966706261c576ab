"""Methods from other packages: a real installed distribution (a `.dist-info` with
`entry_points.txt` on sys.path, read by importlib.metadata in a fresh interpreter) registers a
Method through the entry-point group `inpaint_bench.methods`. The README's example plugin is
installed as written; `methods` lists it, `train`, `evaluate`, `tables`, `report` and
`reproduce --methods` run it, its runs record its package; broken plugins are one line each,
naming plugin and package, and the built-ins keep working."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def install(site: Path, name: str, version: str, summary: str, points: dict[str, str], modules: dict[str, str]) -> None:
    """Install distribution `name` into `site` as pip would lay it out: its modules and a
    dist-info folder (METADATA, entry_points.txt, RECORD)."""
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n")
    (info / "entry_points.txt").write_text(
        "[inpaint_bench.methods]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    (info / "RECORD").write_text("".join(f"{m}.py,,\n" for m in modules))


def readme_plugin(site: Path) -> str:
    """The README's example plugin, installed from its two code blocks; its method's name."""
    text = (ROOT / "README.md").read_text()
    toml_block = re.search(r"```toml\n# pyproject.toml\n(.*?)```", text, re.S).group(1)
    code = re.search(r"```python\n# tinyfill.py\n(.*?)```", text, re.S).group(1)
    project = tomllib.loads(toml_block)["project"]
    points = project["entry-points"]["inpaint_bench.methods"]
    install(site, project["name"], project["version"], project["description"], points,
            {points[next(iter(points))].split(":")[0]: code})
    assert len(code.splitlines()) <= 40  # the README shows a complete plugin of about 30 lines
    return next(iter(points))


def bench(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    return site, readme_plugin(site)


def test_the_readme_plugin_is_listed_trained_evaluated_tabled_and_reported(plugin_site, tmp_path):
    site, name = plugin_site
    listed = bench(site, "methods", "--no-build", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"^{name} +tinyfill 0\.1\.0 \(plugin\)$", listed.stdout, re.M)
    assert re.search(r"^srpnet +inpaint-bench .*\(built in\)$", listed.stdout, re.M)
    built = bench(site, "methods", name, cwd=tmp_path)
    assert built.returncode == 0 and "parameters (256 px): g 7,459" in built.stdout, built.stderr
    config = tmp_path / "run.yaml"
    config.write_text(f"method: {{name: {name}}}\ndata: {{dataset: sample, size: 64}}\n"
                      "train: {iterations: 2, batch_size: 2, checkpoint_every: 2, num_workers: 0, device: cpu}\n"
                      "eval: {count: 3, masks: [center], num_workers: 0}\n")
    run = tmp_path / "runs" / "plug"
    for args in (["train", str(config), "--run-dir", str(run), "--no-progress"],
                 ["evaluate", str(run), "--no-progress"],
                 ["tables", str(run), "--out", str(tmp_path / "tables")],
                 ["report", str(run), "--out", str(tmp_path / "report")]):
        done = bench(site, *args, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["method"] == name and manifest["packages"]["tinyfill"] == "0.1.0"
    assert name in (tmp_path / "tables" / "table2.csv").read_text()
    assert "A four-layer inpainter" in (tmp_path / "report" / "report.html").read_text()


def test_reproduce_methods_plans_the_plugin_under_the_profile(plugin_site, tmp_path):
    site, name = plugin_site
    done = subprocess.run(
        [sys.executable, "-c", f"from bench import profiles; print([r.run_id for r in profiles.plan('quick', methods=['{name}']).runs])"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])},
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"['quick-{name}-sample-64px']"


BROKEN = {
    "noimport": ("noimport-pkg", {"noimport": "not_installed_module:build"}, {}),
    "raiser": ("raiser-pkg", {"raiser": "raiser:build"}, {"raiser": "def build(spec):\n    raise RuntimeError('no GPU here')\n"}),
    "notmethod": ("notmethod-pkg", {"notmethod": "notmethod:build"}, {"notmethod": "def build(spec):\n    return 42\n"}),
    "shadow": ("shadow-pkg", {"srpnet": "shadow:build"}, {"shadow": "def build(spec):\n    return 42\n"}),
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("broken")
    for package, points, modules in BROKEN.values():
        install(site, package, "1.0", "a broken plugin", points, modules)
    return site


@pytest.mark.parametrize("plugin, message", [
    ("noimport", "plugin 'noimport' of noimport-pkg 1.0: cannot load not_installed_module:build (ModuleNotFoundError"),
    ("raiser", "plugin 'raiser' of raiser-pkg 1.0: its factory raiser:build raised RuntimeError: no GPU here"),
    ("notmethod", "plugin 'notmethod' of notmethod-pkg 1.0: its factory notmethod:build returned int, not a bench.method.Method"),
])
def test_a_broken_plugin_is_one_line_naming_it_and_its_package(broken_site, tmp_path, plugin, message):
    config = tmp_path / "run.yaml"
    config.write_text(f"method: {{name: {plugin}}}\ndata: {{dataset: sample, size: 64}}\n"
                      "train: {iterations: 1, batch_size: 2, num_workers: 0, device: cpu}\n")
    done = bench(broken_site, "train", str(config), "--run-dir", str(tmp_path / "run"), "--no-progress", cwd=tmp_path)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], done.stderr


def test_the_built_ins_keep_working_beside_broken_plugins_and_none_is_shadowed(broken_site, tmp_path):
    done = bench(broken_site, "methods", "--no-build", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # listed, and the shadowing plugin is a failure
    for name in ("picnet", "glcic", "pennet", "srpnet-baseline", "srpnet+discriminator", "srpnet"):
        assert re.search(rf"^{re.escape(name)} +inpaint-bench .*\(built in\)$", done.stdout, re.M), name
    assert "plugin 'srpnet' of shadow-pkg 1.0: may not take the built-in method's name; ignored" in done.stderr
    done = bench(broken_site, "methods", "srpnet", "noimport", "raiser", "notmethod", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert re.search(r"^srpnet +inpaint-bench", done.stdout, re.M)
    assert "parameters (256 px): generator 21,238,450" in done.stdout  # the built-in SRPNet, not the plugin
    for plugin in ("noimport", "raiser", "notmethod"):
        assert f"error: plugin '{plugin}' of {plugin}-pkg 1.0" in done.stdout
