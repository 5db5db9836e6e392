#!/usr/bin/env bash
# devenv on the engines users run today, from Debian's archive: a test machine of Debian sid (a
# container with its own engines inside) with Docker 28 on the containerd image store, BuildKit's
# buildx, and Podman 5 (netavark, nftables, aardvark-dns) serving the Docker API. A clean checkout
# (`git archive HEAD`) is copied in and set up with the README's first command's set-up
# (./scripts/dev-setup.sh); then, on a fresh `devenv init` project:
#
#   docker    the main flow on Docker 28 (containerd store): base, build, verify, up, run, down
#   devcontainer  the Dev Containers CLI (from `scripts/dev-setup.sh --tests`) on Docker 28:
#             `devcontainer up` of the generated .devcontainer/, pgvector queried from the app
#   podman    the main flow on Podman 5's Docker API (`podman system service`, scripts/services.sh)
#   prebuild  on Docker: a registry in the machine (scripts/services.sh), `devenv push`; a
#             teammate (the engine without the project's images) `devenv pull`s and builds with
#             no step re-run, then `up`; a changed requirement built with the registry as cache
#   buildkit  on Docker 28 with buildx (which devenv picks there; the other Docker parts build
#             with it too, Podman with the classic builder): a build (both images in one bake,
#             apt and uv downloads on cache mounts), its labels, no cache in a layer, a no-op
#             rebuild running 0 steps, a requirements edit re-running only the install (its
#             apt steps cached), an unknown apt package failing with devenv's hint
#
#   scripts/engine-check.sh [--only docker|devcontainer|podman|prebuild|buildkit]... [--worktree] [--keep]
#                           [--rebuild]
#
#   --only      run these parts (repeatable; default all five, in the order above)
#   --worktree  copy this working tree's files (tracked and untracked, not ignored) instead of HEAD
#   --keep      leave the machine (and its volumes) for a look inside
#   --rebuild   make the machine image again (it is kept between runs as a cache)
#
# One line per step with its time; the full output goes to the log. Exits 1 at the first failed
# step, with its last lines. Needs root (debootstrap) and a Docker engine. What it makes is named
# $ENGINE_CHECK_PREFIX-* and removed at the end, also on failure, except the machine's images
# ($PREFIX-base:sid and $PREFIX-machine:sid-HASH, the cache). Environment (all optional):
#   ENGINE_CHECK_PREFIX    name prefix of the container, volumes and images (default devenv-engines)
#   ENGINE_CHECK_TIMEOUT   seconds one step may take (default 1200)
#   ENGINE_CHECK_LOG_DIR   where the full output goes (default /tmp)
set -euo pipefail
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${ENGINE_CHECK_PREFIX:-devenv-engines}
TIMEOUT=${ENGINE_CHECK_TIMEOUT:-1200}
LOG_DIR=${ENGINE_CHECK_LOG_DIR:-/tmp}
PARTS=()
WORKTREE=0
KEEP=0
REBUILD=0
# The inner Docker engine's networks: clear of the host engine's 172.17.0.0/16 and of Podman's
# default 10.88.0.0/16.
INNER_BIP=10.196.0.1/24
INNER_POOL=10.197.0.0/16
# The engines under test, from sid; runc because this machine's root lacks CAP_SYS_RESOURCE (see
# scripts/services.sh). Podman's network packages (nftables, aardvark-dns) and the registry come
# from `scripts/services.sh install` in each run: the check proves that it picks Podman 5's.
MACHINE_PACKAGES=(docker.io docker-cli docker-buildx containerd runc iptables podman crun
    curl openssl git)
REGISTRY=127.0.0.1:5443
PODMAN_SOCKET=/run/devenv-services/podman/podman.sock

usage() {
    echo "usage: $0 [--only docker|devcontainer|podman|prebuild|buildkit]... [--worktree] [--keep] [--rebuild]" >&2
    exit 2
}
while (($#)); do
    case $1 in
    --only)
        (($# >= 2)) || usage
        case $2 in docker | devcontainer | podman | prebuild | buildkit) PARTS+=("$2") ;; *) usage ;; esac
        shift 2
        ;;
    --worktree) WORKTREE=1 && shift ;;
    --keep) KEEP=1 && shift ;;
    --rebuild) REBUILD=1 && shift ;;
    *) usage ;;
    esac
done
((${#PARTS[@]})) || PARTS=(docker devcontainer podman prebuild buildkit)
[[ $PREFIX =~ ^[a-z0-9][a-z0-9_.-]*$ ]] || {
    echo "engine-check.sh: ENGINE_CHECK_PREFIX must be a lowercase name ([a-z0-9_.-])" >&2
    exit 2
}
[[ $TIMEOUT =~ ^[0-9]+$ ]] || {
    echo "engine-check.sh: ENGINE_CHECK_TIMEOUT must be a number of seconds" >&2
    exit 2
}

BASE=$PREFIX-base:sid
IMAGE_REPO=$PREFIX-machine
NAME=$PREFIX-$$
LOG=$LOG_DIR/$PREFIX.log
T0=$(date +%s)

say() { printf 'engine-check: %s\n' "$*"; }
die() {
    printf 'engine-check: FAILED: %s\n' "$*" >&2
    exit 1
}
since() { echo $(($(date +%s) - $1)); }

WORK=$(mktemp -d)
cleanup() {
    local rc=$?
    if ((KEEP)); then
        say "kept container $NAME (docker exec -it $NAME bash; docker rm -f $NAME; docker volume rm $NAME-docker $NAME-containers)"
    else
        docker rm -f "$NAME" >/dev/null 2>&1 || true
        docker volume rm -f "$NAME-docker" "$NAME-containers" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# in_box CMD...: runs CMD as root in the machine, in the background so a TERM is handled at once.
in_box() {
    docker exec -i -w /root "$NAME" "$@" <&0 &
    wait $!
}

# step PART TITLE SCRIPT: runs SCRIPT in a login shell in the machine, output to the log; one line.
step() {
    local part=$1 title=$2 script=$3 t rc=0
    t=$(date +%s)
    printf '\n== %s: %s\n$ %s\n' "$part" "$title" "$script" >>"$LOG"
    in_box timeout -k 10 "$TIMEOUT" bash -lc "set -euo pipefail; $script" >>"$WORK/step.out" 2>&1 </dev/null || rc=$?
    cat "$WORK/step.out" >>"$LOG"
    if ((rc != 0)); then
        printf '  %-12s %-44s FAILED (%ss)\n' "$part" "$title" "$(since "$t")"
        tail -n 40 "$WORK/step.out" | sed 's/^/  ! /' >&2
        die "$part: '$title' exited $rc (command: $script; full output: $LOG)"
    fi
    printf '  %-12s %-44s ok (%ss)\n' "$part" "$title" "$(since "$t")"
    mv "$WORK/step.out" "$WORK/last.out"
    : >"$WORK/step.out"
}

: >"$LOG"
: >"$WORK/step.out"
show() { sed 's/^/  | /' "$WORK/last.out"; } # the last step's output
say "parts: ${PARTS[*]}; full output: $LOG"

# -- the machine's images (cached) ------------------------------------------------------------------
if ((REBUILD)); then
    docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" | xargs -r docker image rm -f >/dev/null 2>&1 || true
    docker image rm -f "$BASE" >/dev/null 2>&1 || true
fi
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    t=$(date +%s)
    command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] ||
        die "debootstrap is not installed (scripts/dev-setup.sh installs it)"
    ((EUID == 0)) || die "bootstrapping $BASE needs root"
    debootstrap --variant=minbase --include=python3,ca-certificates,sudo sid "$WORK/rootfs" \
        >"$WORK/debootstrap.log" 2>&1 || {
        tail -n 20 "$WORK/debootstrap.log" >&2
        die "debootstrap sid failed"
    }
    tar -C "$WORK/rootfs" -c . | docker import - "$BASE" >/dev/null
    rm -rf "$WORK/rootfs"
    say "bootstrapped $BASE with debootstrap in $(since "$t")s"
fi
t=$(date +%s)
mkdir -p "$WORK/ctx/certs"
for crt in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [[ -f $crt ]] && cp "$crt" "$WORK/ctx/certs/"
done
printf '{"bip": "%s", "default-address-pools": [{"base": "%s", "size": 24}], "features": {"containerd-snapshotter": true}}\n' \
    "$INNER_BIP" "$INNER_POOL" >"$WORK/ctx/daemon.json"
# sid's Release may look expired to a VM's clock.
echo 'Acquire::Check-Valid-Until "false";' >"$WORK/ctx/apt.conf"
cat >"$WORK/ctx/Dockerfile" <<EOF
FROM $BASE
COPY certs/ /usr/local/share/ca-certificates/
COPY apt.conf /etc/apt/apt.conf.d/99devenv-engines
RUN update-ca-certificates \\
 && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
  ${MACHINE_PACKAGES[*]} && rm -rf /var/lib/apt/lists/*
COPY daemon.json /etc/docker/daemon.json
CMD ["sleep", "infinity"]
EOF
# The machine image is named by what makes it: the base's id and this context (a changed package
# list makes a new one).
IMAGE=$IMAGE_REPO:sid-$({ docker image inspect -f '{{.Id}}' "$BASE" &&
    cd "$WORK/ctx" && find . -type f | LC_ALL=C sort | xargs sha256sum; } | sha256sum | cut -c1-12)
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" | xargs -r docker image rm >/dev/null 2>&1 || true
    docker build -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1 || {
        tail -n 20 "$WORK/build.log" >&2
        die "building $IMAGE failed"
    }
    say "machine image $IMAGE made in $(since "$t")s"
else
    say "machine image $IMAGE cached"
fi

# -- the machine ------------------------------------------------------------------------------------
# Its own engines inside: what works on these VMs (--privileged does not: root here lacks
# CAP_SYS_RESOURCE), and volumes for the engines' stores (overlay cannot sit on overlayfs).
t=$(date +%s)
docker volume create "$NAME-docker" >/dev/null
docker volume create "$NAME-containers" >/dev/null
docker run -d --name "$NAME" --hostname engines \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt apparmor=unconfined --security-opt seccomp=unconfined \
    --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' \
    --mount "type=volume,src=$NAME-docker,dst=/var/lib/docker" \
    --mount "type=volume,src=$NAME-containers,dst=/var/lib/containers" \
    "$IMAGE" >/dev/null
# shellcheck disable=SC2016 # expanded by the container's sh
in_box sh -c 'mount -o remount,rw /sys && mount -o remount,rw /sys/fs/cgroup &&
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
in_box tar -x -C /root <"$WORK/src.tar"
say "machine $NAME up in $(since "$t")s"

step setup "scripts/dev-setup.sh" 'cd ~/devenv && ./scripts/dev-setup.sh'
step setup "scripts/services.sh install" 'cd ~/devenv && ./scripts/services.sh install'
step setup "engines" "
    printf 'docker %s (API %s), store %s, driver %s\n' \
        \"\$(docker version -f '{{.Server.Version}}')\" \"\$(docker version -f '{{.Server.APIVersion}}')\" \
        \"\$(docker info -f '{{range .DriverStatus}}{{if eq (index . 0) \"driver-type\"}}{{index . 1}}{{end}}{{end}}')\" \
        \"\$(docker info -f '{{.Driver}}')\"
    docker info -f '{{.DriverStatus}}' | grep -q io.containerd.snapshotter || { echo 'not the containerd image store'; exit 1; }
    docker buildx version; docker compose version; containerd --version; podman --version
    python3 --version; devenv --version"
show

# A fresh project: psycopg among its requirements (the run step imports it).
new_project() { # DIR
    printf "mkdir -p %s && cd %s && printf 'psycopg[binary]\\\\n' >requirements.txt && devenv init" "$1" "$1"
}
main_flow() { # PART DIR [EXPORTS]
    local part=$1 dir=$2 env=${3:-}
    step "$part" "devenv init" "$(new_project "$dir")"
    step "$part" "devenv base" "$env cd $dir && devenv base"
    step "$part" "devenv build" "$env cd $dir && devenv build"
    step "$part" "devenv verify" "$env cd $dir && devenv verify"
    step "$part" "devenv up" "$env cd $dir && devenv up"
    step "$part" "devenv run -- python -c 'import psycopg'" "$env cd $dir && devenv run -- python -c 'import psycopg'"
    step "$part" "devenv down --volumes" "$env cd $dir && devenv down --volumes"
}

# Prints the build's --json as one line: images, tags, steps_total, steps_cached, pulled.
# shellcheck disable=SC2016 # expanded in the machine
BUILD_SUMMARY='python3 -c "import json, sys; r = json.load(sys.stdin); print({k: r.get(k) for k in (\"ok\", \"steps_total\", \"steps_cached\", \"pulled\", \"current\", \"error\")})"'
# The project's images on the engine (dev and db, local and registry names), removed.
drop_images() { # PROJECT NAME
    echo "docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '(^|/)$1-(dev|db):' | xargs -r docker image rm -f"
}

# What a build --json says under BuildKit: steps per stage, which ran; exits 1 unless $1 holds.
# shellcheck disable=SC2016 # expanded in the machine
STEPS_RUN='python3 -c "import json, sys
r = json.load(open(\"build.json\"))
ran = [s for s in r[\"steps\"] if not s[\"cached\"] and not s[\"instruction\"].startswith(\"FROM \")]
print({k: r.get(k) for k in (\"ok\", \"steps_total\", \"steps_cached\", \"steps_run\", \"seconds\", \"error\")})
for s in ran: print(\"  ran:\", s[\"target\"], s[\"stage\"], s[\"number\"], s[\"seconds\"], \"s\", s[\"instruction\"][:70])
for t, why in sorted(r.get(\"reasons\", {}).items()):
    for w in why: print(\"  why:\", t, w[\"step\"], w[\"reason\"][:80])
sys.exit(not eval(sys.argv[1]))"'

for part in "${PARTS[@]}"; do
    case $part in
    docker) main_flow docker /root/p-docker ;;
    podman)
        step podman "services.sh start podman" 'cd ~/devenv && ./scripts/services.sh start podman && podman version -f "podman {{.Server.Version}}" && podman info -f "network {{.Host.NetworkBackend}}, store {{.Store.GraphDriverName}}"'
        show
        main_flow podman /root/p-podman "export DOCKER_HOST=unix://$PODMAN_SOCKET;"
        ;;
    prebuild)
        dir=/root/p-prebuild
        step prebuild "services.sh start registry" "cd ~/devenv && ./scripts/services.sh start registry
            docker login -u devenv --password-stdin $REGISTRY </run/devenv-services/registry/password"
        # Python 3.13+ (sid's) accepts the registry's test CA: the TLS handshake verifies.
        step prebuild "python3 trusts the test CA" "python3 -c 'import socket, ssl, sys
ctx = ssl.create_default_context(cafile=\"/run/devenv-services/registry/ca.pem\")
with socket.create_connection((\"127.0.0.1\", 5443)) as raw, ctx.wrap_socket(raw, server_hostname=\"127.0.0.1\") as tls:
    print(sys.version.split()[0], tls.version(), \"verified\", tls.getpeercert()[\"subject\"])'"
        show
        step prebuild "devenv init (registry)" "$(new_project $dir) && sed -i 's|^\\[environment\\]\$|[environment]\\nregistry = \"$REGISTRY/engines\"|' devenv.toml && grep -n registry devenv.toml"
        step prebuild "devenv base" "cd $dir && devenv base"
        step prebuild "devenv build" "cd $dir && devenv build"
        step prebuild "devenv push" "cd $dir && devenv push"
        step prebuild "teammate: image rm" "$(drop_images p-prebuild)"
        step prebuild "teammate: devenv pull" "cd $dir && devenv pull"
        step prebuild "teammate: build, 0 steps run" "cd $dir && devenv build --json >build.json || true; $BUILD_SUMMARY <build.json
            python3 -c 'import json, sys; r = json.load(open(\"build.json\")); sys.exit(not r[\"ok\"] or r[\"steps_total\"] != r[\"steps_cached\"])'"
        show
        step prebuild "teammate: devenv up" "cd $dir && devenv up"
        step prebuild "teammate: devenv down" "cd $dir && devenv down --volumes"
        step prebuild "changed requirement: image rm" "$(drop_images p-prebuild)"
        step prebuild "changed requirement: build" "cd $dir && printf 'six\\n' >>requirements.txt && devenv build --json >build.json || true; $BUILD_SUMMARY <build.json
            python3 -c 'import json, sys; sys.exit(not json.load(open(\"build.json\"))[\"ok\"])'"
        show
        ;;
    devcontainer)
        # VS Code's "Reopen in Container", as the Dev Containers CLI does it: Compose builds the
        # committed docker/Dockerfile with this engine's builder and starts app and db.
        dir=/root/p-devcontainer
        step devcontainer "dev-setup.sh --tests (node, the CLI)" "cd ~/devenv && ./scripts/dev-setup.sh --tests && devcontainer --version"
        step devcontainer "devenv init, base, generate" "$(new_project $dir) && devenv base && devenv generate"
        step devcontainer "devcontainer up" "cd $dir && devcontainer up --workspace-folder $dir >up.json; tail -c 300 up.json; grep -q '\"outcome\":\"success\"' up.json"
        step devcontainer "devcontainer exec: pgvector from the app" "cd $dir && devcontainer exec --workspace-folder $dir python -c 'import os, psycopg
with psycopg.connect(os.environ[\"DATABASE_URL\"], autocommit=True) as c:
    c.execute(\"CREATE EXTENSION IF NOT EXISTS vector\")
    print(c.execute(\"SELECT %s::vector <-> %s::vector\", (\"[1,2,3]\", \"[1,2,4]\")).fetchone()[0], os.getuid())'"
        show
        step devcontainer "compose down" "cd $dir && docker compose down --volumes"
        ;;
    buildkit)
        dir=/root/p-buildkit
        step buildkit "devenv init" "$(new_project $dir)"
        step buildkit "devenv base" "cd $dir && devenv base"
        # --no-cache: the docker part may have built the same steps (BuildKit's cache is the
        # engine's); it also empties the cache mounts.
        step buildkit "build: BuildKit, cold (--no-cache)" "cd $dir && devenv build --no-cache --json >build.json 2>build.err || true
            grep -E 'building with BuildKit|^built ' build.err && $STEPS_RUN 'r[\"ok\"] and r[\"steps_run\"] > 0'"
        show
        # The labels the classic path gives; the cache mounts hold apt's and uv's downloads,
        # the image none of them (nor apt's lists).
        step buildkit "labels, caches in mounts only" "cd $dir
            for t in dev db; do docker image inspect -f '{{json .Config.Labels}}' devenv/p-buildkit-\$t |
                python3 -c 'import json, sys; l = json.load(sys.stdin); print({k[11:]: l[k][:16] for k in l if k in (\"dev.devenv.target\", \"dev.devenv.plan\", \"dev.devenv.content\", \"dev.devenv.steps\")}); sys.exit(len(l.get(\"dev.devenv.plan\", \"\")) < 16)'; done
            docker buildx du --verbose --filter type=exec.cachemount | grep -E '^(Description|Size):' | paste - -
            docker run --rm --entrypoint sh devenv/p-buildkit-dev -c 'echo apt lists: \$(ls /var/lib/apt/lists | wc -l) entries, kept debs: \$(ls /var/cache/apt/kept 2>/dev/null | wc -l), uv cache: \$(ls /var/cache/devenv/uv 2>/dev/null | wc -l)
                test -z \"\$(ls /var/cache/apt/kept /var/cache/devenv/uv 2>/dev/null)\"'
            echo history: \$(docker history -q devenv/p-buildkit-dev | wc -l) entries, \$(docker history --no-trunc --format '{{.CreatedBy}}' devenv/p-buildkit-dev | grep -ci proxy= || true) naming a proxy"
        show
        step buildkit "no-op rebuild: 0 steps run" "cd $dir && devenv build --json >build.json 2>/dev/null || true
            $STEPS_RUN 'r[\"ok\"] and r[\"steps_run\"] == 0 and not any(r[\"reasons\"].values())'"
        show
        # A requirement no other part installs: BuildKit's cache is the engine's, shared by every
        # project, and the prebuild part already built psycopg[binary] + six.
        step buildkit "requirements edit: only the install, and why" "cd $dir && printf 'idna\\n' >>requirements.txt && devenv build --json >build.json 2>/dev/null || true
            $STEPS_RUN 'r[\"ok\"] and ran and all(s[\"stage\"] == \"dev\" for s in ran) and \"requirements\" in ran[0][\"instruction\"] and \"requirements.txt changed\" in r[\"reasons\"][\"dev\"][0][\"reason\"]'"
        show
        step buildkit "unknown apt package: devenv's hint" "cd $dir && cp devenv.toml plan.bak
            sed -i 's|\"libpq-dev\"|\"libpq-dev\", \"devenv-no-such-package\"|' devenv.toml
            if devenv build >out.txt 2>&1; then echo 'built?'; exit 1; fi; mv plan.bak devenv.toml
            grep -iE 'error|hint|apt cannot find' out.txt | tail -n 4
            grep -q 'apt cannot find the package devenv-no-such-package' out.txt"
        show
        ;;
    esac
done
say "PASSED: ${PARTS[*]} in $(since "$T0")s"
