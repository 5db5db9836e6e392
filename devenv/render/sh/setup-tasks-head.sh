#!/bin/sh
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
