"""docker/setup-tasks.sh: the plan's [tasks] setup as the script VS Code runs on every start
(the devcontainer's postStartCommand), the same tasks `devenv up` and `devenv host-install
--with-db` run through devenv.run.tasks."""

from __future__ import annotations

import shlex

from devenv.plan.model import Plan
from devenv.render.scripts import SETUP_TASKS_HEAD

SCRIPT = "docker/setup-tasks.sh"


def render_script(plan: Plan) -> str:
    calls = "".join(
        f"run_task {shlex.quote(task)} {shlex.join(argv)}\n"
        for task, argv in zip(plan.tasks.setup, plan.tasks.argvs(), strict=True)
    )
    count = len(plan.tasks.setup)
    return f"{SETUP_TASKS_HEAD}total={count}\n{calls}printf 'setup tasks: %s ran\\n' {count}\n"
