"""[tasks] setup: the plan's setup commands, run in order once the environment is up.

Three paths run them, the same way: `devenv up` (in the app container, through `docker
compose exec`), VS Code (docker/setup-tasks.sh, written by devenv.render.tasks, as the
devcontainer's postStartCommand, so "Reopen in Container" runs them on every start, as `devenv
up` does — tasks are written to be repeatable, like `alembic upgrade head`) and `devenv host-install
--with-db` (in the host venv, with DATABASE_URL). Each task is an argv (the line split like a
shell would, run without one); the first failure stops the run, its output shown, and every run
says which tasks ran and how long each took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from devenv.errors import DevenvError
from devenv.plan.model import Plan

# argv -> (exit code, the last output lines); the runner streams the output as it comes.
Runner = Callable[[Sequence[str]], "tuple[int, str]"]
Log = Callable[[str], None]


class TaskError(DevenvError):
    """A setup task failed: the ones before it ran, the ones after it did not."""


@dataclass(frozen=True, kw_only=True)
class TaskResult:
    task: str
    code: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class TasksReport:
    total: int
    results: tuple[TaskResult, ...]

    @property
    def ok(self) -> bool:
        return len(self.results) == self.total and all(r.code == 0 for r in self.results)

    def line(self) -> str:
        if not self.total:
            return "none ([tasks] setup is empty)"
        done = ", ".join(f"{r.task} ({r.seconds:.1f}s)" for r in self.results if r.code == 0)
        return (
            f"{sum(r.code == 0 for r in self.results)}/{self.total} ran{': ' if done else ''}{done}"
        )


def run_tasks(plan: Plan, runner: Runner, log: Log, where: str) -> TasksReport:
    """Every task in order; TaskError (naming the task, with its last output) at the first
    failure."""
    total = len(plan.tasks.setup)
    results: list[TaskResult] = []
    for n, (task, argv) in enumerate(zip(plan.tasks.setup, plan.tasks.argvs(), strict=True), 1):
        log(f"task {n}/{total}: {task} ({where})")
        started = time.monotonic()
        code, tail = runner(argv)
        result = TaskResult(task=task, code=code, seconds=time.monotonic() - started)
        results.append(result)
        if code != 0:
            done = TasksReport(total=total, results=tuple(results))
            raise TaskError(
                f"setup task {n}/{total} `{task}` failed with exit {code} after "
                f"{result.seconds:.1f}s ({where}); {len(results) - 1} before it ran, "
                f"{total - n} after it did not",
                hint="fix it (its output is above), then run the same command again",
                details=f"{tail}\n-- {done.line()}" if tail else "",
            )
        log(f"task {n}/{total} ok ({result.seconds:.1f}s)")
    return TasksReport(total=total, results=tuple(results))
