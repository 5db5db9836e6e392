#!/usr/bin/env bash
# Start or stop the pieces a team's setup has beyond one local engine, for devenv's tests:
#
#   registry   Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1 with TLS
#              from a CA made here and htpasswd auth
#   remote     a second dockerd (the "teammate", or a build farm) on a loopback TCP port with
#              TLS and client certificates, its own data-root/exec-root/pidfile and bridge
#   podman     Debian's podman serving the Docker-compatible API on a unix socket (rootful)
#
#   scripts/services.sh start [SERVICE...]   # all three when none is named; idempotent
#   scripts/services.sh stop [SERVICE...]    # stops only what this script started (pid files)
#   scripts/services.sh status [SERVICE...]  # exit 0 when every named service answers
#   scripts/services.sh env [SERVICE...]     # prints the variables clients need (KEY=VALUE)
#
# Each service writes $DEVENV_SERVICES_DIR/NAME/env: the addresses, certificate paths and (for
# the registry) the user and password file a client needs. Needs root (re-runs itself with
# `sudo -n` otherwise), openssl, curl; `install` adds docker-registry, podman, apache2-utils.
#
# Environment (all optional):
#   DEVENV_SERVICES_DIR     state: pid files, logs, certificates (default /run/devenv-services)
#   DEVENV_REGISTRY_PORT    registry port on 127.0.0.1                     (default 5443)
#   DEVENV_REMOTE_PORT      remote engine's TCP port on 127.0.0.1          (default 5476)
#   DEVENV_REMOTE_DATA      remote engine's data-root (default /var/lib/devenv-remote-engine)
#   DEVENV_REMOTE_BRIDGE    its bridge interface                            (default devenv-rmt0)
#   DEVENV_REMOTE_POOL      the /16 its networks come from                  (default 10.213.0.0/16)
#   DEVENV_PODMAN_SOCKET    podman's socket      (default $DEVENV_SERVICES_DIR/podman/podman.sock)
#   DEVENV_SERVICES_WAIT    seconds to wait for each service to answer       (default 60)
set -euo pipefail

DIR=${DEVENV_SERVICES_DIR:-/run/devenv-services}
REGISTRY_PORT=${DEVENV_REGISTRY_PORT:-5443}
REMOTE_PORT=${DEVENV_REMOTE_PORT:-5476}
REMOTE_DATA=${DEVENV_REMOTE_DATA:-/var/lib/devenv-remote-engine}
REMOTE_BRIDGE=${DEVENV_REMOTE_BRIDGE:-devenv-rmt0}
REMOTE_POOL=${DEVENV_REMOTE_POOL:-10.213.0.0/16}
REMOTE_PREFIX=${REMOTE_POOL%.0.0/16} # 10.213: the bridge is .255.1/24, compose networks .0-127
PODMAN_SOCKET=${DEVENV_PODMAN_SOCKET:-$DIR/podman/podman.sock}
WAIT_SECONDS=${DEVENV_SERVICES_WAIT:-60}
ALL=(registry remote podman)

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
usage() {
    echo "usage: $0 {install|start|stop|status|env} [registry|remote|podman]..." >&2
    exit 2
}

# Prints the pid in FILE if that process is still running COMM.
live_pid() {
    local file=$1 comm=$2 pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm ]] || return 1
    [[ $(<"/proc/$pid/comm") == "$comm" ]] || return 1
    printf '%s\n' "$pid"
}

# wait_for NAME PID CHECK...: runs CHECK each second until it succeeds, PID dies, or time is up.
wait_for() {
    local name=$1 pid=$2 log_file=$3 waited=0
    shift 3
    while ((waited < WAIT_SECONDS)); do
        if "$@" >/dev/null 2>&1; then
            log "$name ready after ${waited}s (pid $pid, log $log_file)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$log_file" >&2 || true
            die "$name (pid $pid) exited during start-up; see $log_file"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    tail -n 20 "$log_file" >&2 || true
    die "$name (pid $pid) did not answer within ${WAIT_SECONDS}s; see $log_file (DEVENV_SERVICES_WAIT raises the wait)"
}

# stop_pid NAME FILE COMM: SIGTERM, then SIGKILL after 20s; removes the pid file.
stop_pid() {
    local name=$1 file=$2 comm=$3 pid waited=0
    if ! pid=$(live_pid "$file" "$comm"); then
        rm -f "$file"
        log "$name: not started by this script; nothing to stop"
        return 0
    fi
    log "+ kill -TERM $pid ($name)"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        ((waited == 20)) && kill -KILL "$pid" 2>/dev/null
        ((waited >= 30)) && die "$name (pid $pid) did not exit"
        sleep 1
        waited=$((waited + 1))
    done
    rm -f "$file"
    log "$name (pid $pid) stopped after ${waited}s"
}

# -- certificates ------------------------------------------------------------------------------

# The extensions current X.509 checks require (Python 3.13+ verifies strictly: a CA without key
# usage fails with "CA cert does not include key usage extension", a leaf without an authority
# key id fails too).
CA_EXTENSIONS="basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash"

# make_ca DIR: a CA (ca.pem, ca-key.pem) once per state folder. One made before the CA had its
# extensions is made again, with its leaf certificates.
make_ca() {
    local d=$1
    if [[ -s $d/ca.pem && -s $d/ca-key.pem ]]; then
        openssl x509 -in "$d/ca.pem" -noout -ext keyUsage 2>/dev/null | grep -q 'Certificate Sign' && return 0
        rm -f "$d"/*.pem "$d/ca.srl"
    fi
    printf '%s\n' "$CA_EXTENSIONS" >"$d/ca.ext"
    openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=devenv test CA" \
        -keyout "$d/ca-key.pem" -out "$d/ca.csr" 2>/dev/null
    openssl x509 -req -sha256 -days 30 -in "$d/ca.csr" -signkey "$d/ca-key.pem" \
        -extfile "$d/ca.ext" -out "$d/ca.pem" 2>/dev/null
    rm -f "$d/ca.csr" "$d/ca.ext"
}

# make_cert DIR NAME USAGE: NAME.pem/NAME-key.pem signed by DIR's CA, for 127.0.0.1 and localhost.
make_cert() {
    local d=$1 name=$2 usage=$3
    [[ -s $d/$name.pem && -s $d/$name-key.pem ]] && return 0
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=$usage" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$d/$name.ext"
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$name" \
        -keyout "$d/$name-key.pem" -out "$d/$name.csr" 2>/dev/null
    openssl x509 -req -sha256 -days 30 -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" \
        -CAcreateserial -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null
    rm -f "$d/$name.csr" "$d/$name.ext"
    chmod 0644 "$d/$name-key.pem" # test clients run as other users; these keys guard test services
}

# -- registry ----------------------------------------------------------------------------------

registry_answers() {
    local d=$DIR/registry
    # 401 (auth required) is an answer: the registry is up and TLS verified against our CA.
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$d/ca.pem" \
        "https://127.0.0.1:$REGISTRY_PORT/v2/") == 401 ]]
}

start_registry() {
    local d=$DIR/registry pid
    command -v docker-registry >/dev/null 2>&1 || die "docker-registry is not installed ('$0 install')"
    command -v htpasswd >/dev/null 2>&1 || die "htpasswd is not installed ('$0 install')"
    mkdir -p "$d/data"
    if pid=$(live_pid "$d/pid" docker-registry); then
        wait_for registry "$pid" "$d/log" registry_answers
        return 0
    fi
    make_ca "$d"
    make_cert "$d" server serverAuth
    if [[ ! -s $d/password ]]; then
        printf 'devenv\n' >"$d/user"
        head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$d/password"
        htpasswd -Bbc "$d/htpasswd" "$(<"$d/user")" "$(<"$d/password")" 2>/dev/null
    fi
    cat >"$d/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $d/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
  tls:
    certificate: $d/server.pem
    key: $d/server-key.pem
auth:
  htpasswd:
    realm: devenv-test
    path: $d/htpasswd
EOF
    # Engines trust a registry's CA from certs.d (read at each pull/push; no restart).
    install -D -m 0644 "$d/ca.pem" "/etc/docker/certs.d/127.0.0.1:$REGISTRY_PORT/ca.crt"
    install -D -m 0644 "$d/ca.pem" "/etc/containers/certs.d/127.0.0.1:$REGISTRY_PORT/ca.crt"
    log "+ docker-registry serve $d/config.yml >>$d/log 2>&1 &"
    setsid docker-registry serve "$d/config.yml" </dev/null >>"$d/log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$d/pid"
    {
        echo "DEVENV_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT"
        echo "DEVENV_TEST_REGISTRY_CA=$d/ca.pem"
        echo "DEVENV_TEST_REGISTRY_USER=$(<"$d/user")"
        echo "DEVENV_TEST_REGISTRY_PASSWORD_FILE=$d/password"
    } >"$d/env"
    chmod 0644 "$d/password"
    wait_for registry "$pid" "$d/log" registry_answers
}

stop_registry() { stop_pid registry "$DIR/registry/pid" docker-registry; }

# -- remote engine -----------------------------------------------------------------------------

remote_answers() {
    local d=$DIR/remote
    docker --tlsverify --tlscacert "$d/ca.pem" --tlscert "$d/cert.pem" --tlskey "$d/key.pem" \
        -H "tcp://127.0.0.1:$REMOTE_PORT" version --format '{{.Server.Version}}'
}

# The remote engine runs with --iptables=false so it never rewrites the shared engine's chains
# (dockerd flushes its chains when it starts). Its networks all come from its own pool; these
# few rules of its own (removed by stop) let them through the FORWARD policy the shared engine
# set (bridged traffic passes it too) and give them the NAT a build's RUN needs.
remote_rules() {
    local op=$1 net=$REMOTE_POOL
    local rules=(
        "filter FORWARD -s $net -j ACCEPT"
        "filter FORWARD -d $net -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        "nat POSTROUTING -s $net ! -d $net -j MASQUERADE"
    )
    local rule table rest
    for rule in "${rules[@]}"; do
        table=${rule%% *}
        rest=${rule#* }
        # shellcheck disable=SC2086 # the rule is words on purpose
        if iptables -t "$table" -C $rest 2>/dev/null; then
            [[ $op == delete ]] && iptables -t "$table" -D $rest
        else
            [[ $op == add ]] && iptables -t "$table" -I $rest
        fi
    done
    return 0
}

start_remote() {
    local d=$DIR/remote pid
    command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed (scripts/engine.sh start installs it)"
    mkdir -p "$d/exec" "$REMOTE_DATA"
    if pid=$(live_pid "$d/pid" dockerd); then
        wait_for "remote engine" "$pid" "$d/log" remote_answers
        return 0
    fi
    # Its networks are remade at start. A network store left by a start with other bridge
    # settings names the shared engine's docker0 as its default bridge, and dockerd deletes
    # that interface while it drops the stale network: every container of the shared engine
    # then fails to start ("could not find bridge docker0").
    rm -f "$REMOTE_DATA/network/files/local-kv.db"
    make_ca "$d"
    make_cert "$d" server serverAuth
    if [[ ! -s $d/cert.pem ]]; then
        make_cert "$d" client clientAuth
        mv "$d/client.pem" "$d/cert.pem"
        mv "$d/client-key.pem" "$d/key.pem"
    fi
    if ! ip link show "$REMOTE_BRIDGE" >/dev/null 2>&1; then
        ip link add "$REMOTE_BRIDGE" type bridge
        ip addr add "$REMOTE_PREFIX.255.1/24" dev "$REMOTE_BRIDGE"
    fi
    ip link set "$REMOTE_BRIDGE" up
    echo '{}' >"$d/daemon.json" # not the host's /etc/docker/daemon.json (the shared engine's)
    remote_rules add
    log "+ dockerd -H tcp://127.0.0.1:$REMOTE_PORT --tlsverify ... >>$d/log 2>&1 &"
    setsid dockerd --host "tcp://127.0.0.1:$REMOTE_PORT" --tlsverify \
        --tlscacert "$d/ca.pem" --tlscert "$d/server.pem" --tlskey "$d/server-key.pem" \
        --data-root "$REMOTE_DATA" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
        --bridge "$REMOTE_BRIDGE" --iptables=false --ip-masq=false \
        --default-address-pool "base=$REMOTE_PREFIX.0.0/17,size=24" \
        --config-file "$d/daemon.json" </dev/null >>"$d/log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$d/pid"
    {
        echo "DEVENV_TEST_REMOTE_HOST=tcp://127.0.0.1:$REMOTE_PORT"
        echo "DEVENV_TEST_REMOTE_CERT_PATH=$d"
    } >"$d/env"
    wait_for "remote engine" "$pid" "$d/log" remote_answers
}

stop_remote() {
    stop_pid "remote engine" "$DIR/remote/pid" dockerd
    remote_rules delete
    if ip link show "$REMOTE_BRIDGE" >/dev/null 2>&1; then
        ip link delete "$REMOTE_BRIDGE"
    fi
}

# -- podman ------------------------------------------------------------------------------------

podman_answers() {
    [[ $(curl -s --max-time 5 --unix-socket "$PODMAN_SOCKET" http://d/_ping) == OK ]]
}

has_cap_sys_resource() {
    local eff
    eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
    (((16#$eff >> 24) & 1))
}

start_podman() {
    local d=$DIR/podman pid
    command -v podman >/dev/null 2>&1 || die "podman is not installed ('$0 install')"
    mkdir -p "$d" "$(dirname "$PODMAN_SOCKET")"
    if pid=$(live_pid "$d/pid" podman); then
        wait_for podman "$pid" "$d/log" podman_answers
        return 0
    fi
    rm -f "$PODMAN_SOCKET"
    # Podman raises every container's RLIMIT_NOFILE/NPROC to its defaults; a root without
    # CAP_SYS_RESOURCE (our CI VMs) cannot, and crun also refuses hybrid cgroups there. Such a
    # machine gets a containers.conf with limits it can set and runc.
    local conf=(env)
    if ! has_cap_sys_resource; then
        cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
        conf=(env "CONTAINERS_CONF=$d/containers.conf")
        log "no CAP_SYS_RESOURCE here: podman runs with $d/containers.conf (ulimits it can set, runc)"
    fi
    log "+ podman system service --time=0 unix://$PODMAN_SOCKET >>$d/log 2>&1 &"
    setsid "${conf[@]}" podman system service --time=0 "unix://$PODMAN_SOCKET" </dev/null >>"$d/log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$d/pid"
    echo "DEVENV_TEST_PODMAN_HOST=unix://$PODMAN_SOCKET" >"$d/env"
    wait_for podman "$pid" "$d/log" podman_answers
}

stop_podman() {
    stop_pid podman "$DIR/podman/pid" podman
    rm -f "$PODMAN_SOCKET"
}

# -- commands ----------------------------------------------------------------------------------

# The major version of the installed podman, else of the one apt would install (0: none known).
podman_major() {
    local version
    if command -v podman >/dev/null 2>&1; then
        version=$(podman --version | awk '{print $NF}')
    else
        version=$(apt-cache policy podman 2>/dev/null | awk '/Candidate:/ {print $2}')
        version=${version#*:} # an epoch
    fi
    [[ $version =~ ^([0-9]+)\. ]] && echo "${BASH_REMATCH[1]}" || echo 0
}

cmd_install() {
    local wanted=() updated=0
    # Which podman apt would install decides its network packages (below).
    if ! command -v podman >/dev/null 2>&1; then
        apt-get -o DPkg::Lock::Timeout=600 update -q
        updated=1
    fi
    command -v docker-registry >/dev/null 2>&1 || wanted+=(docker-registry)
    command -v podman >/dev/null 2>&1 || wanted+=(podman)
    # compose's `init: true` needs podman's init, catatonit (a recommends, not a dependency)
    [[ -x /usr/libexec/podman/catatonit ]] || wanted+=(catatonit)
    if (($(podman_major) >= 5)); then
        # Podman 5's network stack, netavark, runs nft for its rules and resolves service names
        # (compose's `db`) with aardvark-dns; without them no container on a network starts
        command -v netavark >/dev/null 2>&1 || [[ -x /usr/lib/podman/netavark ]] || wanted+=(netavark)
        command -v nft >/dev/null 2>&1 || wanted+=(nftables)
        [[ -x /usr/lib/podman/aardvark-dns ]] || wanted+=(aardvark-dns)
    else
        # service names resolve on Podman 4's CNI networks only with dnsname
        [[ -x /usr/lib/cni/dnsname ]] || wanted+=(golang-github-containernetworking-plugin-dnsname)
    fi
    command -v htpasswd >/dev/null 2>&1 || wanted+=(apache2-utils)
    command -v curl >/dev/null 2>&1 || wanted+=(curl)
    command -v openssl >/dev/null 2>&1 || wanted+=(openssl)
    ((${#wanted[@]} == 0)) && return 0
    log "+ apt-get install ${wanted[*]}"
    ((updated)) || apt-get -o DPkg::Lock::Timeout=600 update -q
    env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends "${wanted[@]}" uidmap slirp4netns crun
}

cmd_start() {
    mkdir -p "$DIR"
    chmod 0755 "$DIR"
    local s
    for s in "$@"; do "start_$s"; done
}

cmd_stop() {
    local s
    for s in "$@"; do "stop_$s"; done
}

cmd_status() {
    local s rc=0
    for s in "$@"; do
        if "${s}_answers" >/dev/null 2>&1; then log "$s answers"; else
            log "$s does not answer"
            rc=1
        fi
    done
    return $rc
}

cmd_env() {
    local s
    for s in "$@"; do
        [[ -f $DIR/$s/env ]] || die "$s was not started ('$0 start $s')"
        cat "$DIR/$s/env"
    done
}

main() {
    (($# >= 1)) || usage
    local cmd=$1 s
    shift
    case $cmd in
    install | start | stop | status | env) ;;
    *) usage ;;
    esac
    (($# > 0)) || set -- "${ALL[@]}"
    for s in "$@"; do
        case $s in
        registry | remote | podman) ;;
        *) usage ;;
        esac
    done
    if ((EUID != 0)) && [[ $cmd != env ]]; then
        command -v sudo >/dev/null 2>&1 || die "must run as root (no sudo found)"
        exec sudo -n --preserve-env=DEVENV_SERVICES_DIR,DEVENV_REGISTRY_PORT,DEVENV_REMOTE_PORT,DEVENV_REMOTE_DATA,DEVENV_REMOTE_BRIDGE,DEVENV_REMOTE_POOL,DEVENV_PODMAN_SOCKET,DEVENV_SERVICES_WAIT "$0" "$cmd" "$@"
    fi
    "cmd_$cmd" "$@"
}

main "$@"
