"""Shell scripts the images and the VS Code path run. POSIX sh, shellcheck-clean.

Plan values never reach these texts: they take everything as arguments or environment.
"""

from __future__ import annotations

DB_ENTRYPOINT = r"""#!/bin/sh
# Starts PostgreSQL like the official postgres image does: POSTGRES_USER, POSTGRES_PASSWORD
# (or POSTGRES_PASSWORD_FILE) and POSTGRES_DB; refuses to start without a password.
set -eu

if [ "${1:-}" != "postgres" ]; then
    exec "$@"
fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "devenv db: POSTGRES_PASSWORD is not set, refusing to start without a password." \
        "Set it (compose reads .devenv/db.env; docker run -e POSTGRES_PASSWORD=...)." >&2
    exit 1
fi
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # The password goes through a private file, never through argv.
    pwfile=$(mktemp)
    trap 'rm -f "$pwfile"' EXIT
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" > /dev/null
    rm -f "$pwfile"
    printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"

    # Set up on a socket-only server, so nothing over TCP sees a half-made database.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
    psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d postgres -v db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sql) psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" ;;
            *.sh) sh "$f" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
    echo "devenv db: initialised $PGDATA for database $POSTGRES_DB"
fi

unset POSTGRES_PASSWORD
exec "$@"
"""

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
# Creates .devenv/db.env with a random database password, once. VS Code runs this on the host
# before it starts the services (initializeCommand); `devenv generate` does the same.
set -eu
cd "$(dirname "$0")/.."
file=.devenv/db.env
if [ -f "$file" ]; then
    exit 0
fi
umask 077
mkdir -p .devenv
password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
tmp="$file.$$"
printf 'POSTGRES_PASSWORD=%s\nPGPASSWORD=%s\n' "$password" "$password" > "$tmp"
mv "$tmp" "$file"
"""
