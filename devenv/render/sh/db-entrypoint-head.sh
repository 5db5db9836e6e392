#!/usr/bin/env bash
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
