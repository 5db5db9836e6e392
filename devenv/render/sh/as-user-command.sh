# shellcheck shell=sh
echo $$ >"$0"
if [ -n "$1" ]; then
    # shellcheck disable=SC1090 # devenv's export lines for this run
    . "$1"
fi
shift
exec "$@"
