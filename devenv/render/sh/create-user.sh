#!/bin/sh
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
