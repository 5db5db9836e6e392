# shellcheck shell=sh
set -eu
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
