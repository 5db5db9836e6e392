# shellcheck shell=bash

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
