"""The integration files run in parallel (pytest-xdist, `--dist loadfile`: each file's tests and
module fixtures on one worker). What the workers share, and how they take turns with it.

- A base image or a test image several files make (``ubuntu:24.04``, the bare hosts, the built
  ``itest`` project) is made under a file lock: the first worker makes it, the others wait and
  then find it (or build it again from the engine's cache in seconds), instead of two workers
  bootstrapping or building the same thing at once.
- Turns on the engine: every integration test takes a shared turn; a test that looks at the
  whole engine (``unchanged_engine``: nothing verify-like appeared or vanished anywhere) or
  takes away what others use (untags ``ubuntu:24.04`` to bootstrap it again) is marked
  ``engine_exclusive`` and runs while no other worker's test does. Consecutive exclusive tests
  of one file keep their turn. A waiting exclusive turn goes first (a turnstile), so shared
  turns cannot starve it.

Without xdist (``-n 0``, ``-p no:xdist``) there is one worker: turns cost nothing.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: Locks about the engine's images are machine-wide (two sessions on one engine share bases);
#: turns are per test run.
LOCKS = Path(tempfile.gettempdir()) / "devenv-test-locks"


def worker() -> str:
    """This worker's name (gw0, gw1, …), "main" without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _open(name: str) -> IO[str]:
    LOCKS.mkdir(mode=0o1777, exist_ok=True)
    return (LOCKS / f"{name.replace('/', '_').replace(':', '_')}.lock").open("a")


@contextmanager
def locked(name: str) -> Iterator[None]:
    """One holder at a time, across workers and sessions on this machine."""
    with _open(name) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Turns:
    """A readers-writer lock on the engine between the workers of one run (flock on two files:
    the turn itself, and a gate every taker passes through, so a waiting writer blocks new
    readers)."""

    def __init__(self) -> None:
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
        self.enabled = bool(run) and "PYTEST_XDIST_WORKER" in os.environ
        self.name = f"engine-turn-{run}"
        self.held: str | None = None  # "shared" or "exclusive"
        self._turn: IO[str] | None = None

    def take(self, mode: str) -> None:
        if not self.enabled or self.held == mode:
            return
        self.release()
        with locked(f"{self.name}-gate"):
            self._turn = _open(self.name)
            fcntl.flock(self._turn, fcntl.LOCK_EX if mode == "exclusive" else fcntl.LOCK_SH)
        self.held = mode

    def release(self) -> None:
        if self._turn is not None:
            fcntl.flock(self._turn, fcntl.LOCK_UN)
            self._turn.close()
        self._turn, self.held = None, None
