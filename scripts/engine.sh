#!/usr/bin/env bash
# Start or stop a local Docker engine (Debian's docker.io) for devenv builds and tests.
#
#   scripts/engine.sh start   # no-op if `docker info` answers; else install + start dockerd
#   scripts/engine.sh stop    # stops only the dockerd this script started (pid file)
#   scripts/engine.sh status  # exit 0 if an engine answers
#
# Both start and stop are idempotent. Needs root (re-runs itself with `sudo -n` otherwise).
# Environment (all optional):
#   DEVENV_ENGINE_STATE_DIR  where the pid file lives     (default /run/devenv-engine)
#   DEVENV_ENGINE_LOG        dockerd's log file            (default /var/log/devenv-dockerd.log)
#   DEVENV_ENGINE_WAIT       seconds to wait for the engine (default 60)
set -euo pipefail

STATE_DIR=${DEVENV_ENGINE_STATE_DIR:-/run/devenv-engine}
PID_FILE=$STATE_DIR/dockerd.pid
LOG_FILE=${DEVENV_ENGINE_LOG:-/var/log/devenv-dockerd.log}
WAIT_SECONDS=${DEVENV_ENGINE_WAIT:-60}
SOCKET=/var/run/docker.sock

log() { printf 'engine.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
run() {
    log "+ $*"
    "$@"
}

usage() {
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
}

# `docker info` against whatever the environment points at (DOCKER_HOST or the default socket).
engine_answers() {
    command -v docker >/dev/null 2>&1 || return 1
    timeout 10 docker info >/dev/null 2>&1
}

# `docker info` against the socket our dockerd listens on.
our_engine_answers() {
    command -v docker >/dev/null 2>&1 || return 1
    timeout 10 docker --host "unix://$SOCKET" info >/dev/null 2>&1
}

# Prints the pid recorded in the pid file if that process is still a running dockerd.
recorded_pid() {
    local pid comm
    [[ -f $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm ]] || return 1
    comm=$(<"/proc/$pid/comm")
    [[ $comm == dockerd ]] || return 1
    printf '%s\n' "$pid"
}

apt_install() {
    # DPkg::Lock::Timeout makes apt wait for a concurrent apt/dpkg run instead of failing.
    run apt-get -o DPkg::Lock::Timeout=600 update
    run env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y "$@"
}

install_missing() {
    local wanted=()
    command -v dockerd >/dev/null 2>&1 || wanted+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || wanted+=(debootstrap)
    if ((${#wanted[@]} == 0)); then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "missing ${wanted[*]} and no apt-get on this machine; install a Docker engine yourself, or use 'devenv host-install'"
    apt_install "${wanted[@]}"
    command -v dockerd >/dev/null 2>&1 || die "apt-get installed docker.io but dockerd is still not on PATH"
}

show_log_tail() {
    if [[ -f $LOG_FILE ]]; then
        log "last lines of $LOG_FILE:"
        tail -n 25 "$LOG_FILE" >&2 || true
    fi
}

wait_until_ready() {
    local pid=$1 waited=0
    while ((waited < WAIT_SECONDS)); do
        if our_engine_answers; then
            log "engine ready after ${waited}s (dockerd pid $pid, socket $SOCKET, log $LOG_FILE)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            show_log_tail
            rm -f "$PID_FILE"
            die "dockerd (pid $pid) exited during start-up; see $LOG_FILE"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    show_log_tail
    die "dockerd (pid $pid) did not answer on $SOCKET within ${WAIT_SECONDS}s; see $LOG_FILE, or run '$0 stop' and retry with DEVENV_ENGINE_WAIT=120"
}

cmd_start() {
    local pid
    if engine_answers; then
        log "an engine already answers 'docker info'; nothing to do"
        return 0
    fi
    if pid=$(recorded_pid); then
        # Our dockerd is running but not (yet) answering: wait for it rather than start another.
        log "dockerd (pid $pid) started earlier by this script is still running; waiting for it"
        wait_until_ready "$pid"
        return 0
    fi
    if [[ -n ${DOCKER_HOST:-} ]]; then
        log "warning: DOCKER_HOST=$DOCKER_HOST does not answer; starting dockerd on unix://$SOCKET (unset DOCKER_HOST to use it)"
    fi
    install_missing
    if [[ -S $SOCKET ]] && ! our_engine_answers; then
        # A stale socket from a dead engine would make dockerd refuse to start.
        log "removing stale socket $SOCKET"
        rm -f "$SOCKET"
    fi
    mkdir -p "$STATE_DIR" "$(dirname "$LOG_FILE")"
    log "+ dockerd >>$LOG_FILE 2>&1 &"
    # setsid: dockerd gets its own session, so it outlives this script and its caller's job.
    setsid dockerd --host "unix://$SOCKET" </dev/null >>"$LOG_FILE" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    wait_until_ready "$pid"
}

cmd_stop() {
    local pid waited=0
    if ! pid=$(recorded_pid); then
        rm -f "$PID_FILE"
        log "no dockerd started by this script is running; nothing to stop"
        return 0
    fi
    run kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= 30)); then
            log "dockerd (pid $pid) still running after 30s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        if ((waited >= 40)); then
            die "dockerd (pid $pid) did not exit; see $LOG_FILE"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    rm -f "$PID_FILE"
    log "dockerd (pid $pid) stopped after ${waited}s"
}

cmd_status() {
    if engine_answers; then
        log "an engine answers 'docker info'"
        return 0
    fi
    log "no engine answers 'docker info' (start one with '$0 start')"
    return 1
}

main() {
    (($# == 1)) || usage
    case $1 in
    start | stop | status) ;;
    *) usage ;;
    esac
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "must run as root (no sudo found)"
        exec sudo -n --preserve-env=DOCKER_HOST,DEVENV_ENGINE_STATE_DIR,DEVENV_ENGINE_LOG,DEVENV_ENGINE_WAIT "$0" "$@"
    fi
    "cmd_$1"
}

main "$@"
