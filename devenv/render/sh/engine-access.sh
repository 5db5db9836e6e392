#!/bin/sh
# The app container's command when [devcontainer] engine_access is on: lets the dev user use the
# engine's socket (mounted at /run/docker.sock) by putting it in a group with the socket's
# GID, then idles as the container's main process. The socket's permissions are not changed
# (it is the host's). Whoever can use the socket is root on the host.
set -eu
user=$1
socket=/run/docker.sock
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
