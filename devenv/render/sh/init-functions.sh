# shellcheck shell=bash

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
