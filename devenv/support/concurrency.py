"""Work beside the main thread, as :class:`concurrent.futures.Future` values.

Each task runs in a daemon thread of its own rather than in a ThreadPoolExecutor: an executor's
threads are joined when the interpreter exits, so a task blocked in an engine call (a build whose
connection an interrupt just closed) would keep Ctrl-C from ending devenv. Every wait polls, so
a Ctrl-C reaches the main thread while it waits.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

#: How often a wait wakes up: for Ctrl-C, and for the caller's own cancellation check.
POLL_SECONDS = 0.5


def start(work: Callable[[], T], *, name: str) -> Future[T]:
    """``work`` in a daemon thread named ``name``; its future holds what it returns or raises."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            value = work()
        except BaseException as exc:  # handed to whoever asks the future
            future.set_exception(exc)
        else:
            future.set_result(value)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def wait_all(
    futures: Sequence[Future[Any]],
    *,
    poll: float = POLL_SECONDS,
    check: Callable[[], None] | None = None,
) -> None:
    """Until every future is done. ``check`` runs at each poll and may raise to stop waiting
    (a torn-down run)."""
    while True:
        _, pending = concurrent.futures.wait(futures, timeout=poll)
        if not pending:
            return
        if check is not None:
            check()


def result(
    future: Future[T], *, poll: float = POLL_SECONDS, check: Callable[[], None] | None = None
) -> T:
    """``future``'s value once it is done, or what it raised."""
    wait_all([future], poll=poll, check=check)
    return future.result()


def results(futures: Sequence[Future[T]]) -> list[T]:
    """Every future's value, in order, once all are done. The first failure (in order) is
    raised; each later one is added to it as a note, so no failure goes unseen."""
    wait_all(futures)
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        first = errors[0]
        for later in errors[1:]:
            add_note(first, f"also failed: {type(later).__name__}: {later}")
        raise first
    return [f.result() for f in futures]


def add_note(error: BaseException, note: str) -> None:
    """PEP 678's ``add_note`` (shown in tracebacks, so under --debug), also on Python 3.10."""
    if sys.version_info >= (3, 11):
        error.add_note(note)
    else:
        error.__notes__ = [*getattr(error, "__notes__", ()), note]  # type: ignore[attr-defined]


def side_by_side(
    jobs: Sequence[Callable[[], T]],
    *,
    name: str,
    on_interrupt: Callable[[], None] | None = None,
) -> list[T]:
    """Run ``jobs`` at once and return their values in order (see :func:`results`). A Ctrl-C
    while waiting cancels the jobs that have not started, calls ``on_interrupt`` (what makes the
    running ones end, e.g. closing their connections) and propagates without waiting for them."""
    futures = [start(job, name=f"{name}-{index}") for index, job in enumerate(jobs)]
    try:
        wait_all(futures)
    except BaseException:
        for future in futures:
            future.cancel()
        if on_interrupt is not None:
            on_interrupt()
        raise
    return results(futures)
