"""The README's test command does its own set-up: `./reproduce.sh test` installs Chromium from
Debian's packages when it is missing and the user may, and otherwise says exactly what to run;
CI runs just that command.

Each case runs the real reproduce.sh on a quick test file with a PATH that has no chromium and
stand-ins for `id` (who the user is) and `apt-get` (which records its calls and, on install,
puts a chromium on the PATH).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("bash", "dirname", "sha256sum", "cut", "cat", "env")


def _reproduce_test(tmp_path, uid, with_apt=True):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if with_apt:
        (bin_dir / "apt-get").write_text(
            f'#!/bin/sh\necho "$@" >> {tmp_path}/apt.log\n'
            f'case "$*" in *install*) printf "#!/bin/sh\\n" > {bin_dir}/chromium; /bin/chmod +x {bin_dir}/chromium;; esac\n')
    for stub in bin_dir.iterdir():
        if not stub.is_symlink():
            stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "INPAINT_BENCH_NO_BROWSER"}
    env["PATH"] = str(bin_dir)
    return subprocess.run(["bash", str(ROOT / "reproduce.sh"), "test", "tests/test_config.py", "-x"],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(autouse=True)
def _environment_made():
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("needs the .venv that ./reproduce.sh makes")


def test_root_gets_chromium_installed_from_debian_packages(tmp_path):
    result = _reproduce_test(tmp_path, uid=0)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "installing chromium (Debian package)" in result.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0].startswith("update") and calls[1].split()[-1] == "chromium" and "install" in calls[1]
    assert (tmp_path / "bin" / "chromium").is_file() and " passed" in result.stdout


@pytest.mark.parametrize("with_apt", [True, False])
def test_a_user_who_may_not_install_is_told_exactly_what_to_run(tmp_path, with_apt):
    result = _reproduce_test(tmp_path, uid=1000, with_apt=with_apt)
    assert result.returncode == 0, result.stderr[-2000:]  # the suite still runs
    assert "run: sudo apt-get update && sudo apt-get install -y chromium" in result.stderr
    assert "INPAINT_BENCH_NO_BROWSER=1" in result.stderr and not (tmp_path / "apt.log").exists()


def test_ci_runs_only_the_readme_test_command():
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert commands[-1] == "./reproduce.sh test"
    assert not any(re.search(r"\b(apt-get|apt|pip)\b", line) for line in commands)
    assert "./reproduce.sh test   # the test suite" in (ROOT / "README.md").read_text()
