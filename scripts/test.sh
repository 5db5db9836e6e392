#!/usr/bin/env bash
# The test suite, from devenv's own venv (made by scripts/dev-setup.sh --tests): pytest with the
# venv's tools (ruff, mypy, hadolint, shellcheck, uv, ...) first on PATH. Arguments go to pytest.
#
#   scripts/test.sh                 # everything (tests/unit and tests/integration)
#   scripts/test.sh tests/unit -q   # a part
#
# DEVENV_HOME: as for scripts/dev-setup.sh (default /opt/devenv as root, else
# ${XDG_DATA_HOME:-~/.local/share}/devenv).
set -euo pipefail
cd "$(dirname "$0")/.."
if ((EUID == 0)); then
    home=${DEVENV_HOME:-/opt/devenv}
else
    home=${DEVENV_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/devenv}
fi
venv=$home/venv
if ! "$venv/bin/python" -c 'import pytest' >/dev/null 2>&1; then
    echo "test.sh: error: no pytest in $venv: run scripts/dev-setup.sh --tests" >&2
    exit 1
fi
export PATH="$venv/bin:$PATH"
exec "$venv/bin/python" -m pytest "$@"
