"""verify's lifecycle without an engine: containers, workers and interrupts as context managers
that clean up when a start fails and let the real error through.

The only fake is `FakeContainer`, for what an engine-free test cannot cause for real: a start
that fails (the engine refusing it) and a removal that fails. The errors it raises are docker-py's
own exception classes, as the engine's client raises them. The same property with the real
engine is tests/integration/test_verify_lifecycle.py.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

import docker.errors
import pytest
import requests

from devenv.errors import DevenvError, EngineError, VerifyError
from devenv.plan.model import load_plan
from devenv.verify.report import Checks, CheckSpec, Status
from devenv.verify.resources import Cancelled, Interrupts, Run, Workers
from tests.conftest import MakeProject


def api_error(status: int, text: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(f"{status} Server Error", response=response, explanation=text)


class FakeContainer:
    """A testcontainers-like container whose start or stop can be made to fail (see above)."""

    def __init__(
        self, name: str, *, fail_start: BaseException | None = None, fail_stop: bool = False
    ) -> None:
        self.name = name
        self.fail_start = fail_start
        self.fail_stop = fail_stop
        self.started = False
        self.stops = 0

    def start(self) -> FakeContainer:
        if self.fail_start is not None:
            raise self.fail_start  # as docker start does, after the container was created
        self.started = True
        return self

    def stop(self) -> None:
        self.stops += 1
        if self.fail_stop:
            raise api_error(500, "driver failed removing the container")


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def run(make_project: MakeProject, lines: list[str]) -> Run:
    plan = load_plan(make_project(name="dvv12-unit"))
    return Run(
        plan=plan,
        images={"db": "x-db", "dev": "x-dev"},
        run_id="1-abc",
        labels={},
        timeout=5,
        log=lines.append,
    )


NO_SUCH = 'failed to create task: exec: "/no/such/binary": no such file or directory'


def test_when_the_second_start_fails_the_first_is_removed_and_its_error_surfaces(
    run: Run, lines: list[str]
) -> None:
    first = FakeContainer("first")
    second = FakeContainer("second", fail_start=api_error(500, NO_SUCH))
    with pytest.raises(docker.errors.APIError) as raised, ExitStack() as stack:
        stack.enter_context(run.started(first))
        stack.enter_context(run.started(second))
        pytest.fail("the body never runs")
    assert raised.value is second.fail_start  # the engine's own error, not a guess
    assert NO_SUCH in str(raised.value)
    assert first.started and first.stops == 1  # removed
    assert second.stops == 1  # created half way: removed too
    assert lines == []


def test_a_failing_removal_is_a_warning_and_never_replaces_the_real_error(
    run: Run, lines: list[str]
) -> None:
    first = FakeContainer("first", fail_stop=True)
    second = FakeContainer("second", fail_start=api_error(500, NO_SUCH))
    with pytest.raises(docker.errors.APIError, match="no such file"), ExitStack() as stack:
        stack.enter_context(run.started(first))
        stack.enter_context(run.started(second))
    assert first.stops == 1
    assert lines == [
        "verify: warning: removing a container: APIError: driver failed removing the container"
    ]


def test_a_container_already_gone_is_not_a_warning(run: Run, lines: list[str]) -> None:
    class Gone(FakeContainer):
        def stop(self) -> None:
            self.stops += 1
            raise api_error(404, "No such container")

    with run.started(Gone("gone")):
        pass
    assert lines == []


def test_an_error_that_is_not_the_engines_is_not_swallowed_by_removal(run: Run) -> None:
    class Broken(FakeContainer):
        def stop(self) -> None:
            raise TypeError("a bug in a removal")

    with pytest.raises(TypeError, match="a bug"), run.started(Broken("broken")):
        pass


def test_a_worker_blocked_in_a_wait_ends_when_the_run_is_cancelled(run: Run) -> None:
    never = threading.Event()
    container = FakeContainer("live")
    ended = threading.Event()

    def blocked() -> None:
        try:
            with run.started(container):
                run.wait(never)
        finally:
            ended.set()

    with pytest.raises(KeyboardInterrupt), Workers(run) as workers:
        workers.spawn("blocked", blocked)
        raise KeyboardInterrupt  # as the signal handler raises it in the main thread
    assert ended.is_set() and run.cancel.is_set()
    assert container.stops == 1
    with pytest.raises(Cancelled):
        run.check()


def test_an_error_of_the_block_waits_for_its_workers_and_cancels_nothing(run: Run) -> None:
    release = threading.Event()
    finished = threading.Event()
    container = FakeContainer("other workers'")

    def slow() -> None:
        release.wait(5)
        finished.set()

    with run.started(container):
        with pytest.raises(ValueError, match="a failed restart"), Workers(run) as workers:
            workers.spawn("slow", slow)
            release.set()
            raise ValueError("a failed restart")  # a check's error: that check fails, no more
        assert finished.is_set() and not run.cancel.is_set()
        assert container.stops == 0  # another worker's container lives on


@pytest.mark.parametrize(
    ("error", "kind", "says"),
    [
        (api_error(500, "layer does not exist"), EngineError, "layer does not exist"),
        (requests.exceptions.ConnectionError("Connection aborted"), EngineError, "aborted"),
        (DevenvError("a devenv error, as it was"), DevenvError, "as it was"),
        (ValueError("a bug"), VerifyError, "verify's w worker crashed: ValueError: a bug"),
    ],
    ids=["engine", "connection", "devenv", "bug"],
)
def test_a_workers_own_error_surfaces_once_the_others_ended(
    run: Run, error: Exception, kind: type[Exception], says: str
) -> None:
    others_done = threading.Event()

    def fails() -> None:
        raise error

    with pytest.raises(kind, match=says) as raised, Workers(run) as workers:
        workers.spawn("w", fails)
        workers.spawn("other", others_done.set)
    assert others_done.is_set()
    assert raised.value is error or raised.value.__cause__ is error  # --debug shows its traceback


def test_a_failed_check_is_in_the_report_not_an_error(run: Run) -> None:
    checks = Checks((CheckSpec(name="c", title="t", group="db"),))

    def job() -> None:
        checks.run("c", lambda: (_ for _ in ()).throw(api_error(409, "name already in use")))

    with Workers(run) as workers:
        workers.spawn("w", job)
    assert checks.status("c") is Status.FAILED


def test_interrupts_raise_once_while_armed_and_are_only_noted_otherwise() -> None:
    said: list[str] = []
    interrupts = Interrupts(lambda: said.append("interrupted"))
    before = signal.getsignal(signal.SIGINT)
    with interrupts.installed():
        os.kill(os.getpid(), signal.SIGTERM)  # not armed: setting up, or cleaning up
        assert interrupts.pending == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt), interrupts.armed():
            pytest.fail("a signal noted before arming interrupts at once")
        interrupts.pending.clear()
        with pytest.raises(KeyboardInterrupt), interrupts.armed():
            os.kill(os.getpid(), signal.SIGINT)
            threading.Event().wait(5)  # the handler raises here
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C while cleaning up: noted only
    assert interrupts.pending == [signal.SIGINT, signal.SIGINT]
    assert said == ["interrupted", "interrupted"]
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_nothing_is_installed(tmp_path: Path) -> None:
    seen: list[object] = []

    def in_thread() -> None:
        interrupts = Interrupts(lambda: None)
        with interrupts.installed(), interrupts.armed():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGINT)]


class FakeWrapped:
    """docker-py's container under a testcontainers one: its kill, which may find it stopped."""

    def __init__(self, calls: list[str], *, running: bool) -> None:
        self.calls = calls
        self.running = running

    def kill(self) -> None:
        if not self.running:
            raise api_error(409, "container is not running")
        self.calls.append("kill")


@pytest.mark.parametrize("running", [True, False])
def test_a_container_is_killed_before_its_forced_removal(running: bool) -> None:
    # Podman's forced removal waits 10 s for a container whose PID 1 ignores SIGTERM.
    from devenv.verify.lifecycle import _killed_first

    calls: list[str] = []

    def remove(self: object, force: bool = True, delete_volume: bool = True) -> None:
        calls.append(f"remove force={force} volumes={delete_volume}")

    container = type("C", (), {"stop": _killed_first(remove)})()
    container._container = FakeWrapped(calls, running=running)
    container.stop()
    expected = ["kill"] if running else []
    assert calls == [*expected, "remove force=True volumes=True"]
