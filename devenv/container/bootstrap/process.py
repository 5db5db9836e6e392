"""Bootstrap commands run with their output shown live, bounded in time, stopped on Ctrl-C."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence

from devenv.errors import DevenvError
from devenv.support.process import stop_process

Log = Callable[[str], None]


class BootstrapError(DevenvError):
    """The base image could not be made here (tool missing, debootstrap or tar failed)."""


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        stop_process(proc)


#: No bootstrap command may hang forever: debootstrap of a release takes about a minute here.
RUN_TIMEOUT = 1800.0


def run_logged(argv: Sequence[str], log: Log, timeout: float = RUN_TIMEOUT) -> int:
    """Run ``argv`` with its output shown live; stop it if we are interrupted or it outlives
    ``timeout`` seconds (then BootstrapError)."""
    log("+ " + shlex.join(argv))
    # Their live output is progress, like our log lines: stderr, keeping stdout for the result.
    try:
        progress: int | None = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        progress = None
    proc = subprocess.Popen(list(argv), stdout=progress)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise BootstrapError(
            f"a bootstrap step did not finish within {timeout:.0f}s: {shlex.join(argv)[:200]}",
            hint="check the network to the mirror and free space, then run `devenv base` again",
        ) from None
    except BaseException:
        stop(proc)
        raise
