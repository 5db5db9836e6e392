#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine to develop and test devenv: system tools, devenv and
# its test tools (editable install), a running Docker engine, and the Dev Containers CLI.
# Idempotent; run as root or with passwordless sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
    echo "+ apt-get install ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

echo "+ python3 -m pip install -e .[test]"
python3 -m pip install -q -e '.[test]'

bash scripts/engine.sh start
