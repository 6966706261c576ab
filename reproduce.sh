#!/usr/bin/env bash
# The front door. On a fresh machine it makes .venv, installs the project (torch first, the
# CPU wheel torch==2.13.0 when no torch is present, so no multi-GB CUDA build is pulled in),
# then runs:
#   ./reproduce.sh                  the quick profile on the embedded sample data
#   ./reproduce.sh test             the test suite
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

if [ "${1:-}" = "test" ]; then
  shift
  exec "$VENV/bin/python" -m pytest -q "$@"
fi
exec "$VENV/bin/python" -m bench reproduce "$@"
