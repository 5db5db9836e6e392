"""Shell scripts the images and the VS Code path run; shellcheck-clean. POSIX sh, except the
db entrypoint (bash, as the official postgres image's; see its header).

Plan values never reach these texts: they take everything as arguments or environment.
"""

from __future__ import annotations

from collections.abc import Sequence

# Shared by the db image's entrypoint and `host-install --with-db`, so init scripts run the same
# way, in the same order, on both paths.
_INIT_FUNCTIONS = r"""
# SQL as POSTGRES_USER into POSTGRES_DB, stopping at the first error (the official helper).
docker_process_sql() {
    local query_runner=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER")
    query_runner+=(--no-password --no-psqlrc)
    if [ -n "$POSTGRES_DB" ]; then
        query_runner+=(--dbname "$POSTGRES_DB")
    fi
    PGHOST='' PGHOSTADDR='' "${query_runner[@]}" "$@"
}

# Appends to init_files the files (not folders) in DIR, in byte order on every machine.
devenv_folder_files() {
    local LC_ALL=C entry
    for entry in "$1"/*; do
        if [ -f "$entry" ]; then
            init_files+=("$entry")
        fi
    done
}

# Runs init files the way the official image does: executable *.sh run with their own
# shebang, other *.sh sourced in this shell (they see docker_process_sql and "${psql[@]}"),
# *.sql, *.sql.gz, *.sql.xz and *.sql.zst fed to docker_process_sql; anything else ignored.
docker_process_init_files() {
    # shellcheck disable=SC2034 # for sourced scripts written for older official images
    psql=(docker_process_sql)
    printf '\n'
    local f
    for f; do
        case "$f" in
        *.sh)
            if [ -x "$f" ]; then
                printf '%s: running %s\n' "$0" "$f"
                "$f"
            else
                printf '%s: sourcing %s\n' "$0" "$f"
                # shellcheck disable=SC1090
                . "$f"
            fi
            ;;
        *.sql)
            printf '%s: running %s\n' "$0" "$f"
            docker_process_sql -f "$f"
            ;;
        *.sql.gz)
            printf '%s: running %s\n' "$0" "$f"
            gunzip -c "$f" | docker_process_sql
            ;;
        *.sql.xz)
            printf '%s: running %s\n' "$0" "$f"
            xzcat "$f" | docker_process_sql
            ;;
        *.sql.zst)
            printf '%s: running %s\n' "$0" "$f"
            zstd -dc "$f" | docker_process_sql
            ;;
        *) printf '%s: ignoring %s\n' "$0" "$f" ;;
        esac
        printf '\n'
    done
}
"""

_ENTRYPOINT_HEAD = r"""#!/usr/bin/env bash
# The db image's entrypoint, written for devenv to the official postgres image's documented
# contract (same variables, same /docker-entrypoint-initdb.d, same order of events).
# bash, not sh: sourced init scripts run in this shell and are written for the official
# image's bash (arrays such as "${psql[@]}"), and server arguments are re-quoted with %q.
set -Eeo pipefail

# VAR or VAR_FILE (a file holding the value, e.g. a secret), never both.
file_env() {
    local var=$1
    local file_var="${var}_FILE"
    local default=${2:-}
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$file_var"
        exit 1
    fi
    local value=$default
    if [ -n "${!var:-}" ]; then
        value=${!var}
    elif [ -n "${!file_var:-}" ]; then
        value=$(<"${!file_var}")
    fi
    export "$var"="$value"
    unset "$file_var"
}

docker_setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
    DATABASE_ALREADY_EXISTS=
    if [ -s "$PGDATA/PG_VERSION" ]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

# As root, hands PGDATA, the WAL folder and the socket folder to postgres (a bind mount, a
# root-owned folder, a volume the official image made with uid 999); as another user, does
# what it may.
docker_create_db_directories() {
    local user
    user=$(id -u)
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    mkdir -p /var/run/postgresql || :
    chmod 03775 /var/run/postgresql || :
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        if [ "$user" = 0 ]; then
            find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
        fi
        chmod 700 "$POSTGRES_INITDB_WALDIR"
    fi
    if [ "$user" = 0 ]; then
        find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
        find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    fi
}

docker_verify_minimum_env() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        cat >&2 <<'EOE'
Error: Database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value;
       devenv's compose file reads it from .devenv/db.env.
       POSTGRES_HOST_AUTH_METHOD=trust allows every connection without a password:
       never use it for data that matters.
EOE
        exit 1
    fi
    if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
        echo >&2 'WARNING: POSTGRES_HOST_AUTH_METHOD=trust: no connection needs a password.'
    fi
}

# initdb, as a user /etc/passwd may not know (`docker run --user 1000:1000`): initdb must look
# its user up, so nss_wrapper lends it a passwd entry for the run (as in the official image).
docker_init_database_dir() {
    local uid gid wrapper
    uid=$(id -u)
    if ! getent passwd "$uid" >/dev/null 2>&1; then
        for wrapper in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
            if [ -s "$wrapper" ]; then
                NSS_WRAPPER_PASSWD=$(mktemp)
                NSS_WRAPPER_GROUP=$(mktemp)
                export LD_PRELOAD=$wrapper NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
                gid=$(id -g)
                printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$uid" "$gid" "$PGDATA" \
                    >"$NSS_WRAPPER_PASSWD"
                printf 'postgres:x:%s:\n' "$gid" >"$NSS_WRAPPER_GROUP"
                break
            fi
        done
    fi
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
        set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"
    fi
    # The password reaches initdb through a pipe, never argv or a file. POSTGRES_INITDB_ARGS is
    # split like a shell would (the official meaning), so it may quote values.
    local initdb='initdb --username="$POSTGRES_USER"'
    initdb+=' --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD")'
    eval "$initdb $POSTGRES_INITDB_ARGS"' "$@"'
    if [[ "${LD_PRELOAD:-}" == */libnss_wrapper.so ]]; then
        rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"
        unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    fi
}

# Every other host connects with POSTGRES_HOST_AUTH_METHOD, by default the method matching
# password_encryption (scram-sha-256 unless a -c setting says otherwise).
pg_setup_hba_conf() {
    if [ "$1" = postgres ]; then
        shift
    fi
    local auth
    auth=$(postgres -C password_encryption "$@")
    : "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
    {
        printf '\n'
        if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
            printf '# warning: trust is enabled for all connections\n'
        fi
        printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
    } >>"$PGDATA/pg_hba.conf"
}

docker_setup_db() {
    local target exists
    target=$POSTGRES_DB
    exists=$(POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$target" --tuples-only \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db' ;")
    if [ -z "$exists" ]; then
        POSTGRES_DB='' docker_process_sql --dbname postgres --set db="$target" \
            <<<'CREATE DATABASE :"db" ;'
        printf '\n'
    fi
}

# The server's own arguments (-c settings included), on the socket only, so nothing over TCP
# sees a half-made database; its log goes to ours, as in the official image.
docker_temp_server_start() {
    if [ "$1" = postgres ]; then
        shift
    fi
    set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
    NOTIFY_SOCKET='' PGUSER="${PGUSER:-$POSTGRES_USER}" \
        pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

docker_temp_server_stop() {
    PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}
"""

_ENTRYPOINT_MAIN = r"""
# `postgres --help`, `--version` and the like need no set-up and no password.
_pg_want_help() {
    local arg
    for arg; do
        case "$arg" in
        -'?' | --help | --describe-config | -V | --version) return 0 ;;
        esac
    done
    return 1
}

_main() {
    if [ "${1:0:1}" = - ]; then
        set -- postgres "$@"
    fi
    if [ "$1" = postgres ] && ! _pg_want_help "$@"; then
        docker_setup_env
        docker_create_db_directories
        if [ "$(id -u)" = 0 ]; then
            # setpriv (util-linux) execs directly, like gosu: postgres stays PID 1.
            HOME=$(getent passwd postgres | cut -d: -f6)
            export HOME
            exec setpriv --reuid=postgres --regid=postgres --init-groups \
                "$BASH" "${BASH_SOURCE[0]}" "$@"
        fi
        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            docker_verify_minimum_env
            ls /docker-entrypoint-initdb.d/ >/dev/null
            docker_init_database_dir
            pg_setup_hba_conf "$@"
            export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
            docker_temp_server_start "$@"
            docker_setup_db
            init_files=()
            local entry
            # A folder here (how devenv mounts the plan's [postgres] init folders) runs its files
            # in its place; the official image would ignore it.
            for entry in /docker-entrypoint-initdb.d/*; do
                if [ -d "$entry" ]; then
                    devenv_folder_files "$entry"
                elif [ -e "$entry" ]; then
                    init_files+=("$entry")
                fi
            done
            docker_process_init_files "${init_files[@]}"
            docker_temp_server_stop
            unset PGPASSWORD
            echo 'PostgreSQL init process complete; ready for start up.'
            echo
        else
            echo 'PostgreSQL Database directory appears to contain a database;' \
                'Skipping initialization'
            echo
        fi
    fi
    exec "$@"
}

_is_sourced() {
    [ "${#FUNCNAME[@]}" -ge 2 ] && [ "${FUNCNAME[0]}" = _is_sourced ] &&
        [ "${FUNCNAME[1]}" = source ]
}

if ! _is_sourced; then
    _main "$@"
fi
"""
DB_ENTRYPOINT = "".join((_ENTRYPOINT_HEAD, _INIT_FUNCTIONS, _ENTRYPOINT_MAIN))

# `host-install --with-db` on a new database: DIR... are the plan's [postgres] init folders,
# PGPORT the cluster's port, POSTGRES_USER and POSTGRES_DB the role and database to seed.
_HOST_INIT_HEAD = r"""#!/usr/bin/env bash
# Runs the plan's [postgres] init folders on a new host database, with the same functions and
# in the same order as the db image's entrypoint.
set -Eeo pipefail
"""
_HOST_INIT_MAIN = r"""
init_files=()
for dir; do
    devenv_folder_files "$dir"
done
docker_process_init_files "${init_files[@]}"
"""
HOST_DB_INIT = "".join((_HOST_INIT_HEAD, _INIT_FUNCTIONS, _HOST_INIT_MAIN))

CREATE_USER = r"""#!/bin/sh
# Usage: create-user.sh NAME UID VENV STORE
# Makes the image's non-root user NAME with UID, taking over an existing user with that UID
# (Ubuntu images ship 'ubuntu' at 1000), and gives it STORE, the folder for the venv's files,
# in its home. VS Code's updateRemoteUserUID re-owns that home (only) when it gives NAME the
# host user's UID, so the venv stays writable; VENV, the path everything uses, links to STORE.
set -eu
name=$1
uid=$2
venv=$3
store=$4

existing=$(getent passwd "$uid" | cut -d: -f1 || true)
if [ -n "$existing" ] && [ "$existing" != "$name" ]; then
    group=$(id -gn "$existing")
    usermod --login "$name" --home "/home/$name" --move-home "$existing"
    groupmod --new-name "$name" "$group"
elif [ -z "$existing" ]; then
    if getent group "$uid" > /dev/null; then
        useradd --create-home --shell /bin/bash --uid "$uid" --gid "$uid" "$name"
    else
        groupadd --gid "$uid" "$name"
        useradd --create-home --shell /bin/bash --uid "$uid" --gid "$name" "$name"
    fi
fi
group=$(id -gn "$name")
home=$(getent passwd "$name" | cut -d: -f6)
mkdir -p "$store"
chown "$name:$group" "$store"
case "$store" in
"$home"/*)
    # Others may read it (`docker run --user` with another UID still finds the venv)...
    chmod 0755 "$home"
    # ...and NAME owns every folder between STORE and the home.
    dir=$(dirname "$store")
    while [ "$dir" != "$home" ]; do
        chown "$name:$group" "$dir"
        dir=$(dirname "$dir")
    done
    ;;
esac
if [ "$venv" != "$store" ]; then
    mkdir -p "$(dirname "$venv")"
    ln -s "$store" "$venv"
fi
"""

INIT_ENV = r"""#!/bin/sh
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
"""


# [tasks] setup for VS Code (postStartCommand): each task in order, as `devenv up` runs them,
# stopping at the first failure; the task lines follow, one `run_task` each, quoted.
SETUP_TASKS_HEAD = r"""#!/bin/sh
# The plan's [tasks] setup, run by VS Code after the app container starts (postStartCommand)
# and the same way by `devenv up` and `devenv host-install --with-db`: in order, in the
# workspace, stopping at the first failure (its output is above the failure line).
set -u
cd "$(dirname "$0")/.." || exit 1
n=0
run_task() {
    n=$((n + 1))
    printf 'task %s/%s: %s\n' "$n" "$total" "$1"
    shift
    start=$(date +%s%N)
    # Through env: the task is exec'd as a program, as devenv up and host-install run it,
    # never a builtin of this shell (the plan refuses those; this keeps it so).
    env -- "$@"
    code=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    if [ "$code" -ne 0 ]; then
        printf 'task %s/%s failed (exit %s, %sms); the tasks after it did not run\n' \
            "$n" "$total" "$code" "$ms" >&2
        exit "$code"
    fi
    printf 'task %s/%s ok (%sms)\n' "$n" "$total" "$ms"
}
"""


# [devcontainer] engine_access: the app container's command, as root, before anything runs as
# the dev user.
ENGINE_ACCESS = r"""#!/bin/sh
# The app container's command when [devcontainer] engine_access is on: lets the dev user use the
# engine's socket (mounted at /var/run/docker.sock) by putting it in a group with the socket's
# GID, then idles as the container's main process. The socket's permissions are not changed
# (it is the host's). Whoever can use the socket is root on the host.
set -eu
user=$1
socket=/var/run/docker.sock
if [ -S "$socket" ]; then
    gid=$(stat -c %g "$socket")
    group=$(getent group "$gid" | cut -d: -f1)
    if [ -z "$group" ]; then
        groupadd -g "$gid" engine
        group=engine
    fi
    usermod -a -G "$group" "$user"
    printf 'engine access: %s is in group %s (GID %s) of %s\n' "$user" "$group" "$gid" "$socket"
else
    printf 'engine access: %s is not a socket here: is the engine running?\n' "$socket" >&2
fi
exec sleep infinity
"""


# `devenv up`'s tasks, `devenv run` and `devenv shell` in the app container: started as root
# (`docker compose exec --user root`), this gives the image's user the caller's UID and GID
# (the first time in a container; as VS Code's updateRemoteUserUID does at build time, so the
# team's image stays one), then drops to that UID with setpriv, which execs, so the command is
# the process. Root stays root: the workspace's files are then root's, the caller's own.
# As that user: records the command's PID for signals, takes the env file devenv wrote for
# this run (export lines, quoted; it removes itself), then execs the command, no shell
# between.
# Usage: sh -c AS_USER as-user UID GID NAME PIDFILE ENVFILE CMD [ARG]...
AS_USER = r"""set -eu
uid=$1
gid=$2
name=$3
shift 3
if [ "$uid" != 0 ]; then
    if [ "$(id -u "$name")" != "$uid" ] || [ "$(id -g "$name")" != "$gid" ]; then
        exec 9>/run/devenv-as-user.lock
        flock 9
        if [ "$(id -u "$name")" != "$uid" ] || [ "$(id -g "$name")" != "$gid" ]; then
            groupmod --non-unique --gid "$gid" "$(id -gn "$name")"
            usermod --non-unique --uid "$uid" --gid "$gid" "$name"
            chown -R "$uid:$gid" "$(getent passwd "$name" | cut -d: -f6)"
        fi
        exec 9>&-
    fi
    HOME=$(getent passwd "$name" | cut -d: -f6)
    USER=$name
    LOGNAME=$name
    export HOME USER LOGNAME
    groups=$(id -G "$name" | tr ' ' ,)
    set -- /usr/bin/setpriv --reuid="$uid" --regid="$gid" --groups="$groups" -- "$@"
fi
exec "$@"
"""
# Runs as the command's user, after AS_USER: $0 the PID file, $1 the env file (or "").
AS_USER_COMMAND = r"""echo $$ >"$0"
if [ -n "$1" ]; then
    # shellcheck disable=SC1090 # devenv's export lines for this run
    . "$1"
fi
shift
exec "$@"
"""


def as_user(
    user: str, argv: Sequence[str], *, pidfile: str, envfile: str, uid: int, gid: int
) -> list[str]:
    """What `compose exec --user root` runs: AS_USER maps the image's user to UID:GID and
    drops to it, AS_USER_COMMAND records the PID, reads the env file, execs argv."""
    return [
        "sh", "-c", AS_USER, "as-user", str(uid), str(gid), user,
        "/bin/sh", "-c", AS_USER_COMMAND, pidfile, envfile, *argv,
    ]  # fmt: skip
