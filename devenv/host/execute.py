"""Running commands on the host: print `+ cmd`, then run the argv (never a shell).

Root commands go through `sudo -n` when devenv is not root (never a password prompt: sudo
fails at once instead, and we say so in one line). Commands that change something are only
printed under --dry-run; probes (read-only queries such as dpkg-query) always run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from devenv.errors import HostError
from devenv.steps.model import Command

Echo = Callable[[str], None]
Env = tuple[tuple[str, str], ...]
# A command's last output lines -> (one-line message, hint) when it recognises the failure.
Diagnose = Callable[[Sequence[str]], "tuple[str, str] | None"]
OUTPUT_LINES = 400  # a compiler's complaint comes long before pip's last lines

# `sudo -n` never prompts; this only bounds a sudo stuck elsewhere (PAM, name service).
SUDO_TIMEOUT = 20.0
NO_ROOT_HINT = (
    "run devenv host-install as root, give this user passwordless sudo, "
    "or run `sudo -v` first and retry within its timeout"
)


# What the host runs is a step's Command as it is, or one made for the host (sudo -n,
# runuser): the same argv + env pair, printed the same way.
Invocation = Command


@dataclass(frozen=True, kw_only=True)
class Probe:
    returncode: int
    stdout: str
    stderr: str


class Executor:
    """Runs invocations for one host-install (or doctor/parity probe) session."""

    def __init__(self, *, echo: Echo, dry_run: bool, euid: int | None = None) -> None:
        self.echo = echo
        self.dry_run = dry_run
        uid = os.geteuid() if euid is None else euid
        self.is_root = uid == 0
        self.user = _user_name(uid)
        self.notes: list[str] = []  # what a dry run found that a real run would stop at
        self._sudo_checked = False

    # -- building invocations ----------------------------------------------------------------

    def plain(self, command: Command, extra_env: Env = ()) -> Invocation:
        return Invocation(argv=command.argv, env=command.env + extra_env)

    def as_root(self, command: Command) -> Invocation:
        if self.is_root:
            return Invocation(argv=command.argv, env=command.env)
        # sudo resets the environment, so variables travel through `env` inside sudo.
        pairs = tuple(f"{k}={v}" for k, v in command.env)
        inner = ("env", *pairs, *command.argv) if pairs else command.argv
        return Invocation(argv=("sudo", "-n", *inner))

    def as_postgres(self, argv: Sequence[str]) -> Invocation:
        if self.is_root:
            return Invocation(argv=("runuser", "-u", "postgres", "--", *argv))
        return Invocation(argv=("sudo", "-n", "-u", "postgres", *argv))

    # -- root access -------------------------------------------------------------------------

    def require_root(self, what: str) -> None:
        """Make sure root commands can run without a prompt; HostError (or, in a dry run, a
        note) naming `what` needed root and how to fix it."""
        if self.is_root or self._sudo_checked:
            return
        self._sudo_checked = True
        problem = self.sudo_problem()
        if problem is None:
            return
        message = f"{what} needs root, but {problem}"
        if self.dry_run:
            self.notes.append(f"a real run would stop here: {message}")
            self.echo(f"  note: {message}")
            return
        raise HostError(f"{message}; nothing was installed", hint=NO_ROOT_HINT)

    def sudo_problem(self) -> str | None:
        """None when `sudo -n` works for this user, else why not (one phrase)."""
        if shutil.which("sudo") is None:
            return f"this machine has no sudo and devenv runs as {self.user!r}"
        try:
            probe = self.probe(("sudo", "-n", "true"), timeout=SUDO_TIMEOUT)
        except HostError as exc:
            return f"`sudo -n true` did not answer ({exc.message})"
        if probe.returncode == 0:
            return None
        said = _first_line(probe.stderr) or f"exit status {probe.returncode}"
        return f"`sudo -n` can't run without a password for user {self.user!r} ({said})"

    # -- running -----------------------------------------------------------------------------

    def run(self, invocation: Invocation, *, what: str, diagnose: Diagnose | None = None) -> None:
        """Print and run a command that changes something (only print it in a dry run).
        With `diagnose`, its output is also read (and passed through): a failure it
        recognises becomes its one-line message instead of the generic one."""
        self.echo(f"+ {invocation.display()}")
        if self.dry_run:
            return
        seen: deque[str] = deque(maxlen=OUTPUT_LINES)
        try:
            if diagnose is None:
                returncode = subprocess.run(
                    invocation.argv,
                    env=_environ(invocation.env),
                    stdin=subprocess.DEVNULL,
                    check=False,
                ).returncode
            else:
                returncode = _run_reading(invocation, seen)
        except FileNotFoundError:
            raise HostError(
                f"{what}: `{invocation.argv[0]}` is not installed or not on PATH",
                hint="run `devenv doctor` to see what this host lacks",
            ) from None
        found = diagnose(tuple(seen)) if diagnose and returncode != 0 else None
        if found:
            message, hint = found
            raise HostError(f"{what} failed: {message}", hint=hint)
        if returncode != 0:
            raise HostError(
                f"{what} failed: `{invocation.display()}` exited with status {returncode}",
                hint=_failure_hint(invocation),
            )

    def probe(self, argv: Sequence[str], *, env: Env = (), timeout: float = 120.0) -> Probe:
        """Print and run a read-only query (also in a dry run); its output is captured."""
        invocation = Invocation(argv=tuple(argv), env=env)
        self.echo(f"+ {invocation.display()}")
        try:
            result = subprocess.run(
                invocation.argv,
                env=_environ(env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return Probe(returncode=127, stdout="", stderr=f"{argv[0]}: not found")
        except subprocess.TimeoutExpired:
            raise HostError(
                f"`{invocation.display()}` did not finish within {timeout:g}s",
                hint="check what it waits for, then retry",
            ) from None
        return Probe(returncode=result.returncode, stdout=result.stdout, stderr=result.stderr)


def _run_reading(invocation: Invocation, seen: deque[str]) -> int:
    """Run, passing the output through to ours line by line and keeping its last lines."""
    with subprocess.Popen(
        invocation.argv,
        env=_environ(invocation.env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            seen.append(line.rstrip("\n"))
        return process.wait()


def _environ(extra: Env) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _failure_hint(invocation: Invocation) -> str:
    argv = invocation.argv
    if "apt-get" in argv:
        return (
            "see apt's output above; if dpkg was interrupted earlier, run "
            "`sudo dpkg --configure -a`, then retry"
        )
    if "pip" in argv or any(a.endswith("/uv") for a in argv):
        return (
            "see the installer's output above; the previous venv (if any) is untouched, "
            "fix the cause and run devenv host-install again"
        )
    return "see the output above, fix the cause and run devenv host-install again"
