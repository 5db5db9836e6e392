"""Shell scripts the images, the host and the VS Code path run. Their text is in sh/ (package
data, shellchecked as files); this module only reads and joins it. POSIX sh, except the db
entrypoint and the host's init-script runner (bash, as the official postgres image's entrypoint;
see its header).

Plan values never reach these texts: they take everything as arguments or environment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

# A part without a shebang names its dialect for shellcheck on its first line; the scripts
# do not carry that line.
_DIALECT = re.compile(r"\A# shellcheck shell=(sh|bash)\n")


def _text(*parts: str) -> str:
    folder = resources.files(__package__).joinpath("sh")
    texts = (folder.joinpath(part).read_text(encoding="utf-8") for part in parts)
    return "".join(_DIALECT.sub("", text, count=1) for text in texts)


# The db image's entrypoint and `host-install --with-db`'s init-script runner share
# init-functions.sh, so init scripts run the same way, in the same order, on both paths.
DB_ENTRYPOINT = _text("db-entrypoint-head.sh", "init-functions.sh", "db-entrypoint-main.sh")
# On a new host database: DIR... are the plan's [postgres] init folders, PGPORT the cluster's
# port, POSTGRES_USER and POSTGRES_DB the role and database to seed.
HOST_DB_INIT = _text("host-db-init-head.sh", "init-functions.sh", "host-db-init-main.sh")
CREATE_USER = _text("create-user.sh")
INIT_ENV = _text("init-env.sh")
# [tasks] setup for VS Code (postStartCommand): render/tasks.py appends `total=N` and one quoted
# `run_task` line per task.
SETUP_TASKS_HEAD = _text("setup-tasks-head.sh")
# [devcontainer] engine_access: the app container's command, as root, before anything runs as
# the dev user.
ENGINE_ACCESS = _text("engine-access.sh")
# `devenv up`'s tasks, `devenv run` and `devenv shell` in the app container: started as root
# (`docker compose exec --user root`), this gives the image's user the caller's UID and GID
# (the first time in a container; as VS Code's updateRemoteUserUID does at build time, so the
# team's image stays one), then drops to that UID with setpriv, which execs, so the command is
# the process. Root stays root: the workspace's files are then root's, the caller's own.
# Usage: sh -c AS_USER as-user UID GID NAME PIDFILE ENVFILE CMD [ARG]...
AS_USER = _text("as-user.sh")
# Runs as the command's user, after AS_USER: records the command's PID for signals, takes the
# env file devenv wrote for this run (export lines, quoted; it removes itself), then execs the
# command, no shell between. $0 the PID file, $1 the env file (or "").
AS_USER_COMMAND = _text("as-user-command.sh")


def as_user(
    user: str, argv: Sequence[str], *, pidfile: str, envfile: str, uid: int, gid: int
) -> list[str]:
    """What `compose exec --user root` runs: AS_USER maps the image's user to UID:GID and
    drops to it, AS_USER_COMMAND records the PID, reads the env file, execs argv."""
    return [
        "sh", "-c", AS_USER, "as-user", str(uid), str(gid), user,
        "/bin/sh", "-c", AS_USER_COMMAND, pidfile, envfile, *argv,
    ]  # fmt: skip
