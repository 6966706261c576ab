#!/usr/bin/env bash
# The front door. On a fresh machine it makes .venv, installs the project (torch first, the
# CPU wheel torch==2.13.0 when no torch is present, so no multi-GB CUDA build is pulled in),
# then runs:
#   ./reproduce.sh                  the quick profile on the embedded sample data
#   ./reproduce.sh test             the test suite (installs Chromium for the report's test if it may)
#   ./reproduce.sh PROFILE [ARGS]   another profile (paper, ablation, smoke, …), see --help
# A second call reuses the environment: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PYTHON=${PYTHON:-python3}
STAMP=$VENV/.inpaint-bench-installed

if [ ! -x "$VENV/bin/python" ]; then
  echo "reproduce.sh: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
  if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "reproduce.sh: installing torch (CPU wheel torch==${TORCH_VERSION:-2.13.0}; set TORCH_VERSION or preinstall torch for GPUs)" >&2
    "$VENV/bin/python" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
  fi
  echo "reproduce.sh: installing inpaint-bench and its dependencies" >&2
  "$VENV/bin/python" -m pip install -q -e '.[test]'
  echo "$wanted" > "$STAMP"
fi

# The report's test renders the page in a real browser. `test` installs Chromium from Debian's
# packages when it is missing and this user may (root, or sudo without a password prompt), and
# otherwise says exactly what to run. INPAINT_BENCH_NO_BROWSER=1 skips that check and this step.
ensure_browser() {
  if [ "${INPAINT_BENCH_NO_BROWSER:-}" = 1 ] || command -v chromium >/dev/null 2>&1 \
     || command -v chromium-browser >/dev/null 2>&1; then
    return 0
  fi
  local sudo=none
  if [ "$(id -u)" = 0 ]; then
    sudo=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  fi
  if command -v apt-get >/dev/null 2>&1 && [ "$sudo" != none ]; then
    echo "reproduce.sh: installing chromium (Debian package) for the report's browser test" >&2
    if $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null; then
      return 0
    fi
  fi
  echo "reproduce.sh: chromium is missing and cannot be installed by this user, so the report's browser" \
       "test will fail; run: sudo apt-get update && sudo apt-get install -y chromium" \
       "(or set INPAINT_BENCH_NO_BROWSER=1 to skip that check)" >&2
}

if [ "${1:-}" = "test" ]; then
  shift
  ensure_browser
  exec "$VENV/bin/python" -m pytest -q "$@"
fi
exec "$VENV/bin/python" -m bench reproduce "$@"
