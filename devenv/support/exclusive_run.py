"""One run at a time per project: an flock on `.devenv/host-install.lock` for host-install,
on `.devenv/images.lock` for build and up (both build the images). A second run exits 75
(EX_TEMPFAIL) with one line naming the holder.

The kernel releases the lock when its holder exits, however it exits (kill -9 included), so a
stale lock file never blocks anyone. A dry run creates nothing: it only checks an existing lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devenv.errors import BusyError, HostError
from devenv.fs.safety import check_real_dirs

LOCK_FILE = ".devenv/host-install.lock"
IMAGES_LOCK_FILE = ".devenv/images.lock"
GENERATE_LOCK_FILE = ".devenv/generate.lock"
GENERATE_WAIT = 30.0  # seconds: generate is quick, so a second one waits, within bounds


class HostBusyError(BusyError, HostError):
    """host-install is already running for this project."""


@contextmanager
def images_lock(project_dir: Path) -> Iterator[None]:
    """Held by `build` and `up` while they build or start this project's images."""
    with _locked(project_dir, IMAGES_LOCK_FILE, "devenv build or up", BusyError):
        yield


@contextmanager
def generate_lock(project_dir: Path) -> Iterator[None]:
    """Held while generate writes: a second generate waits for the first (a short while)."""
    with _locked(project_dir, GENERATE_LOCK_FILE, "devenv generate", BusyError, GENERATE_WAIT):
        yield


@contextmanager
def host_lock(project_dir: Path, *, dry_run: bool) -> Iterator[None]:
    path = project_dir / LOCK_FILE
    if dry_run:
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                _try_lock(fd, path, fcntl.LOCK_SH, "devenv host-install", HostBusyError)
            finally:
                os.close(fd)
        yield
        return
    with _locked(project_dir, LOCK_FILE, "devenv host-install", HostBusyError):
        yield


@contextmanager
def _locked(
    project_dir: Path, rel: str, what: str, busy: type[BusyError], wait: float = 0.0
) -> Iterator[None]:
    path = project_dir / rel
    check_real_dirs(project_dir, (rel,))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise HostError(
            f"can't create the lock file {path}: {exc.strerror}",
            hint=f"run {what} as a user who can write to the project folder",
        ) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                _try_lock(fd, path, fcntl.LOCK_EX, what, busy)
                break
            except BusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_lock(fd: int, path: Path, kind: int, what: str, busy: type[BusyError]) -> None:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(path)
        raise busy(
            f"{what} is already running for {path.parent.parent}{holder}",
            hint="wait for it to finish, then run again",
        ) from None


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
