#!/bin/sh
# Creates .devenv/db.env with a random database password, once, and an empty
# .devenv/compose.local.yaml (this machine's devenv.local.toml overrides) when there is none.
# VS Code runs this on the host before it starts the services (initializeCommand); `devenv
# generate` does the same.
set -eu
cd "$(dirname "$0")/.."
umask 077
mkdir -p .devenv
if [ ! -f .devenv/compose.local.yaml ]; then
    printf '%s\n' '# No devenv.local.toml overrides: `devenv generate` writes them here.' \
        'services: {}' > .devenv/compose.local.yaml
fi
file=.devenv/db.env
if [ -f "$file" ]; then
    exit 0
fi
password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
tmp="$file.$$"
printf 'POSTGRES_PASSWORD=%s\nPGPASSWORD=%s\n' "$password" "$password" > "$tmp"
mv "$tmp" "$file"
