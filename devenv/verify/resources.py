"""What one `devenv verify` run starts, each as a context manager: its containers, the worker
threads that start and check them, and the run's handling of Ctrl-C.

Entered in order, left in reverse, and a resource whose start fails half way cleans up itself
(testcontainers' `DockerContainer.__enter__` and cibuildwheel's `OCIContainer` are the models),
so a failed start never leaves the earlier ones behind and its own error is the one that
surfaces. Engine errors are caught only where a removal is best effort (a warning, never in
place of the real error). Nothing here imports testcontainers: a container is anything with
`start()` and `stop()`, as testcontainers' are.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Any, Protocol, TypeVar

from devenv.container.engine import engine_errors
from devenv.errors import DevenvError, EngineError, VerifyError
from devenv.plan.model import Plan
from devenv.support import concurrency
from devenv.verify.leftovers import ignorable
from devenv.verify.report import describe_exception

JOIN_SECONDS = 30.0  # how long a cancelled run waits for a worker after removing its containers

Log = Callable[[str], None]
T = TypeVar("T")


class Container(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> None: ...


C = TypeVar("C", bound=Container)


class Cancelled(BaseException):
    """Raised in a worker once the run is being torn down (not an Exception: checks let it
    through)."""


@dataclass(kw_only=True)
class Run:
    """One run: what to start and how, and every container that is up, whichever worker
    started it, so that a cancelled run can remove them all at once (which also ends the
    engine calls its workers are blocked in)."""

    plan: Plan
    images: dict[str, str]
    run_id: str
    labels: dict[str, str]
    timeout: float
    log: Log
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    cancel: threading.Event = field(default_factory=threading.Event)
    network: Any = None  # the run's private network, while it exists
    volume: str = ""  # the run's data volume, while it exists
    _live: list[Container] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def name(self, role: str) -> str:
        return f"devenv-verify-{self.plan.environment.name}-{self.run_id}-{role}"

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled

    def wait(self, event: threading.Event) -> None:
        while not event.wait(0.05):
            self.check()

    def result(self, future: Future[T]) -> T:
        """The value another worker hands over through ``future``; Cancelled if the run is
        torn down first."""
        return concurrency.result(future, poll=0.05, check=self.check)

    @contextmanager
    def started(self, container: C) -> Iterator[C]:
        """`container` started, and removed on leaving — also when its start fails half way
        (created but not started, or never ready): then its start's error propagates."""
        with self._lock:
            self.check()
            self._live.append(container)
        try:
            container.start()
            yield container
        finally:
            self.remove(container)

    def remove(self, container: Container) -> None:
        """Remove a live container (forced, with its anonymous volumes), once. Best effort: an
        engine error is a warning, so it never hides the error that ended the run."""
        with self._lock:
            if container not in self._live:
                return
            self._live.remove(container)
        try:
            container.stop()
        except engine_errors() as exc:
            if not ignorable(exc):
                self.log(f"verify: warning: removing a container: {describe_exception(exc)}")

    def remove_all(self) -> None:
        """Every live container, in parallel (a cancelled run: its workers then stop waiting)."""
        with self._lock:
            live = list(self._live)
        removers = [threading.Thread(target=self.remove, args=(c,), daemon=True) for c in live]
        for thread in removers:
            thread.start()
        for thread in removers:
            thread.join(JOIN_SECONDS)


class Workers:
    """Threads of a run, as a context manager. Leaving waits for all of them. When the block
    is left by Ctrl-C (or the run is cancelled), the run is cancelled first and its live
    containers removed, so no worker is left blocked; an error of the block itself only waits
    for them, then propagates. A worker's own exception (a failed check is not one: it is in
    the report) is raised on leaving, once all have ended: an engine error as EngineError with
    the engine's words, devenv's own errors as they are, anything else (a bug) as VerifyError
    carrying it (--debug shows its traceback)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._threads: list[threading.Thread] = []
        self._failed: list[tuple[str, BaseException]] = []

    def __enter__(self) -> Workers:
        return self

    def spawn(self, name: str, job: Callable[[], None]) -> None:
        def work() -> None:
            try:
                job()
            except Cancelled:
                pass
            except BaseException as exc:  # handed to the thread that leaves the block
                self._failed.append((name, exc))

        self.run.check()
        thread = threading.Thread(target=work, name=f"verify-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Until every thread ended, or `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            while thread.is_alive():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                thread.join(0.1 if left is None else min(0.1, left))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and not isinstance(exc, Exception):  # Ctrl-C, Cancelled
            self._cancel()
            return
        try:
            self.join()
        except BaseException:  # Ctrl-C while waiting: cancel, then let it propagate
            self._cancel()
            raise
        if exc is None and self._failed:
            name, error = self._failed[0]
            if isinstance(error, DevenvError):
                raise error
            if isinstance(error, engine_errors()):
                raise EngineError(
                    f"the Docker engine failed during verify ({name}): {describe_exception(error)}",
                    hint="check that it still runs (`docker info`), then verify again",
                ) from error
            raise VerifyError(
                f"verify's {name} worker crashed: {describe_exception(error)}",
                hint="run with --debug for the traceback, and report it",
            ) from error

    def _cancel(self) -> None:
        self.run.cancel.set()
        self.run.remove_all()
        self.join(JOIN_SECONDS)


class Interrupts:
    """SIGINT and SIGTERM (a CI timeout, `docker stop` of a CI container) during a run. While
    the run waits for its workers (`armed`) the first one raises KeyboardInterrupt; any other is
    only noted, so the context managers that clean up as the run unwinds are never cut short
    by a second Ctrl-C. Outside the main thread (`devenv up` runs verify beside compose)
    nothing is installed: signals reach the main thread only."""

    def __init__(self, on_interrupt: Callable[[], None]) -> None:
        self.pending: list[int] = []
        self._armed = False
        self._on_interrupt = on_interrupt

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)
        if self._armed:
            self._interrupt()

    def _interrupt(self) -> None:
        self._armed = False
        self._on_interrupt()
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        sigs = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._handle) for sig in sigs}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextmanager
    def armed(self) -> Iterator[None]:
        self._armed = True
        if self.pending:  # arrived while the run was being set up
            self._interrupt()
        try:
            yield
        finally:
            self._armed = False
