#!/usr/bin/env bash
# The README's first command, run literally on a bare machine: a container of a minimal Debian 12
# (or Debian 13, Ubuntu 24.04) with only python3, ca-certificates (with this host's extra CA
# certificates, as a corporate machine has them) and sudo — no pip, no python3-venv, no Docker —
# that may run its own Docker engine inside. A clean checkout (`git archive HEAD`) is copied in;
# the check passes when the command exits 0 (its `devenv up` too), `devenv` is on PATH in a new
# login shell, and a second `scripts/dev-setup.sh` changes nothing.
#
#   scripts/bare-check.sh [--release bookworm|trixie|noble] [--as root|dev] [--worktree] [--keep]
#
#   --release   the bare machine's release (default bookworm: bootstrapped here with debootstrap;
#               trixie and noble start from the engine's debian:trixie / ubuntu:24.04, made by
#               `devenv base`)
#   --as        who runs the command: root (default) or dev, a user with passwordless sudo
#   --worktree  copy this working tree's files (tracked and untracked, not ignored) instead of HEAD
#   --keep      leave the container (and its engine's volume) for a look inside
#
# Needs root (debootstrap, for bookworm) and a Docker engine. What it makes is named
# $BARE_CHECK_PREFIX-* (default devenv-bare) and removed at the end, also on failure (except
# the bare images, kept as a cache). Environment (all optional):
#   BARE_CHECK_PREFIX   name prefix of the containers, volumes and images (default devenv-bare)
#   BARE_CHECK_TIMEOUT  seconds the README's command may take (default 1800)
#   BARE_CHECK_LOG_DIR  where the full output goes (default /tmp)
set -euo pipefail
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${BARE_CHECK_PREFIX:-devenv-bare}
TIMEOUT=${BARE_CHECK_TIMEOUT:-1800}
LOG_DIR=${BARE_CHECK_LOG_DIR:-/tmp}
RELEASE=bookworm
AS=root
WORKTREE=0
KEEP=0
# The inner engine's networks: clear of the host engine's 172.17.0.0/16 (and of the container's
# own address on it), should a nested netns ever see them.
INNER_BIP=10.198.0.1/24
INNER_POOL=10.199.0.0/16

usage() {
    echo "usage: $0 [--release bookworm|trixie|noble] [--as root|dev] [--worktree] [--keep]" >&2
    exit 2
}
while (($#)); do
    case $1 in
    --release)
        (($# >= 2)) || usage
        RELEASE=$2
        shift 2
        ;;
    --as)
        (($# >= 2)) || usage
        AS=$2
        shift 2
        ;;
    --worktree) WORKTREE=1 && shift ;;
    --keep) KEEP=1 && shift ;;
    *) usage ;;
    esac
done
case $RELEASE in
bookworm) BASE=$PREFIX-base:bookworm ;;
trixie) BASE=debian:trixie ;;
noble) BASE=ubuntu:24.04 ;;
*) usage ;;
esac
case $AS in
root) HOME_IN=/root ;;
dev) HOME_IN=/home/dev ;;
*) usage ;;
esac
[[ $PREFIX =~ ^[a-z0-9][a-z0-9_.-]*$ ]] || {
    echo "bare-check.sh: BARE_CHECK_PREFIX must be a lowercase name ([a-z0-9_.-])" >&2
    exit 2
}
[[ $TIMEOUT =~ ^[0-9]+$ ]] || {
    echo "bare-check.sh: BARE_CHECK_TIMEOUT must be a number of seconds" >&2
    exit 2
}

IMAGE=$PREFIX:$RELEASE
NAME=$PREFIX-$RELEASE-$AS-$$
VOLUME=$NAME-docker
LOG=$LOG_DIR/$PREFIX-$RELEASE-$AS.log
T0=$(date +%s)

say() { printf 'bare-check: %s\n' "$*"; }
die() {
    printf 'bare-check: FAILED: %s\n' "$*" >&2
    exit 1
}
since() { echo $(($(date +%s) - $1)); }

WORK=$(mktemp -d)
cleanup() {
    local rc=$?
    if ((KEEP)); then
        say "kept container $NAME (docker exec -it $NAME bash; docker rm -f $NAME; docker volume rm $VOLUME)"
    else
        docker rm -f "$NAME" >/dev/null 2>&1 || true
        docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Runs a command in the container in the background (with our stdin) and waits, so a TERM is
# handled at once.
# in_box USER CMD...: output to stdout.
in_box() {
    local user=$1
    shift
    docker exec -i -u "$user" -w "$HOME_IN" "$NAME" "$@" <&0 &
    wait $!
}

# -- the README's first command -------------------------------------------------------------------
# The first line of the README's first ```sh block, without its trailing comment.
COMMAND=$(awk '/^```sh$/ {inside = 1; next} inside {print; exit}' "$SOURCE/README.md" |
    sed -E 's/[[:space:]]+#.*$//')
[[ $COMMAND == ./scripts/* ]] || die "the README's first command is not a ./scripts/ command: '$COMMAND'"
say "$RELEASE as $AS: $COMMAND"

# -- images -------------------------------------------------------------------------------------------
if [[ $RELEASE == bookworm ]] && ! docker image inspect "$BASE" >/dev/null 2>&1; then
    t=$(date +%s)
    command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] ||
        die "debootstrap is not installed (scripts/dev-setup.sh installs it)"
    ((EUID == 0)) || die "bootstrapping $BASE needs root"
    # minbase, plus what this bare machine has besides it: python3, ca-certificates, sudo.
    debootstrap --variant=minbase --include=python3,ca-certificates,sudo bookworm "$WORK/rootfs" \
        >"$WORK/debootstrap.log" 2>&1 || {
        tail -n 20 "$WORK/debootstrap.log" >&2
        die "debootstrap bookworm failed"
    }
    # The archive as this (Debian 12) host's apt has it: the release, -updates and -security.
    if [[ -f /etc/apt/sources.list.d/debian.sources ]] && grep -q bookworm /etc/os-release; then
        cp /etc/apt/sources.list.d/debian.sources "$WORK/rootfs/etc/apt/sources.list.d/"
        rm -f "$WORK/rootfs/etc/apt/sources.list"
    fi
    tar -C "$WORK/rootfs" -c . | docker import - "$BASE" >/dev/null
    rm -rf "$WORK/rootfs"
    say "bootstrapped $BASE with debootstrap in $(since "$t")s"
fi
docker image inspect "$BASE" >/dev/null 2>&1 ||
    die "no $BASE on the engine: make it with 'devenv base $BASE' (or 'devenv up' on a plan with that base)"

t=$(date +%s)
mkdir -p "$WORK/ctx/certs"
for crt in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [[ -f $crt ]] && cp "$crt" "$WORK/ctx/certs/"
done
printf '{"bip": "%s", "default-address-pools": [{"base": "%s", "size": 24}]}\n' \
    "$INNER_BIP" "$INNER_POOL" >"$WORK/ctx/daemon.json"
cat >"$WORK/ctx/Dockerfile" <<EOF
FROM $BASE
RUN if ! command -v python3 || ! command -v sudo || ! command -v update-ca-certificates; then \\
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
        python3 ca-certificates sudo && rm -rf /var/lib/apt/lists/*; fi
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates \\
 && useradd -m -s /bin/bash dev \\
 && printf 'dev ALL=(ALL) NOPASSWD: ALL\\n' >/etc/sudoers.d/dev && chmod 0440 /etc/sudoers.d/dev
COPY daemon.json /etc/docker/daemon.json
CMD ["sleep", "infinity"]
EOF
docker build -q -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1 || {
    tail -n 20 "$WORK/build.log" >&2
    die "building $IMAGE failed"
}
say "bare image $IMAGE ready in $(since "$t")s"

# -- the bare machine ---------------------------------------------------------------------------------
# Its own engine inside: what works on these VMs (--privileged does not: root here lacks
# CAP_SYS_RESOURCE), and a volume for /var/lib/docker (overlay2 cannot sit on overlayfs).
docker volume create "$VOLUME" >/dev/null
docker run -d --name "$NAME" --hostname bare \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt apparmor=unconfined --security-opt seccomp=unconfined \
    --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' \
    --mount "type=volume,src=$VOLUME,dst=/var/lib/docker" \
    "$IMAGE" >/dev/null
# shellcheck disable=SC2016 # expanded by the container's sh
# cgroup v1: each hierarchy is a read-only bind mount of its own.
in_box root sh -c 'mount -o remount,rw /sys && mount -o remount,rw /sys/fs/cgroup &&
    for d in /sys/fs/cgroup/*/; do
        if grep -q " ${d%/} cgroup " /proc/mounts; then mount -o remount,bind,rw "$d" || exit 1; fi
    done' ||
    die "could not make /sys and /sys/fs/cgroup writable in $NAME"

if ((WORKTREE)); then
    # shellcheck disable=SC2016 # expanded by that sh
    (cd "$SOURCE" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - --transform 's,^,devenv/,' -c) >"$WORK/src.tar"
else
    git -C "$SOURCE" archive --format=tar --prefix=devenv/ HEAD >"$WORK/src.tar"
fi
in_box root tar -x -C "$HOME_IN" <"$WORK/src.tar"
in_box root chown -R "$AS:$AS" "$HOME_IN/devenv"

installed() { # packages, KB (dpkg's Installed-Size)
    # shellcheck disable=SC2016 # a dpkg-query format
    in_box root dpkg-query -W -f '${Installed-Size}\n' | awk '{n++; s+=$1} END {print n, s}'
}
read -r pkgs0 kb0 < <(installed)

# -- the command, literally, in a login shell -------------------------------------------------------
say "running it (full output: $LOG)"
t=$(date +%s)
rc=0
in_box "$AS" timeout -k 10 "$TIMEOUT" bash -lc "cd ~/devenv && $COMMAND" >"$LOG" 2>&1 || rc=$?
took=$(since "$t")
sed '/^dev-setup.sh: done/q' "$LOG" | grep -E '^(dev-setup.sh:|  [a-z])' | sed 's/^/  | /' || true
if ((rc != 0)); then
    tail -n 60 "$LOG" | sed 's/^/  ! /' >&2
    die "$RELEASE as $AS: '$COMMAND' exited $rc after ${took}s (full output: $LOG)"
fi
setup=$(sed -n 's/^dev-setup.sh: done in \([0-9.]*\)s.*/\1/p' "$LOG" | head -n 1)
say "rc 0 in ${took}s (dev-setup.sh ${setup:-?}s, then devenv up)"

# -- devenv on PATH in a new login shell; a second set-up changes nothing ----------------------------
found=$(in_box "$AS" bash -lc 'command -v devenv') || die "devenv is not on PATH in a new login shell"
in_box "$AS" bash -lc 'devenv --version' >/dev/null || die "$found --version failed in a new login shell"
say "new login shell: devenv is $found"
second=$(in_box "$AS" bash -lc 'cd ~/devenv && ./scripts/dev-setup.sh' 2>&1) || {
    printf '%s\n' "$second" >&2
    die "a second scripts/dev-setup.sh failed"
}
grep -q 'nothing changed' <<<"$second" || {
    printf '%s\n' "$second" >&2
    die "a second scripts/dev-setup.sh changed something"
}
say "second scripts/dev-setup.sh: $(tail -n 1 <<<"$second" | sed 's/^dev-setup.sh: //')"

read -r pkgs1 kb1 < <(installed)
venv_mb=$(in_box root du -sm /opt/devenv "$HOME_IN/.local/share/devenv" 2>/dev/null |
    awk '{s += $1} END {print s + 0}' || true)
say "installed: $((pkgs1 - pkgs0)) apt packages ($(((kb1 - kb0) / 1024)) MB), devenv's venv $venv_mb MB"
say "PASSED: $RELEASE as $AS in $(since "$T0")s"
