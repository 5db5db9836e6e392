"""The result of `devenv verify`: checks as data, collected while they run; the terminal table,
JUnit XML and as_json() are pure functions of the finished report.

A check either passed, failed, or was skipped because a check it needs did not pass (a skipped
check is not ok, but only failed checks are named as the cause).
"""

from __future__ import annotations

import enum
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devenv.errors import DevenvError, VerifyError
from devenv.fs.atomic import atomic_write


class VerifyFailed(DevenvError):
    """Verification ran and at least one check failed (exit 1)."""


class CheckFailed(Exception):
    """Raised inside a check: its message is the check's one-line detail."""


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, kw_only=True)
class CheckSpec:
    name: str  # stable id, e.g. "db-extension-vector"
    title: str  # what it proves, one line
    group: str  # "db" or "dev"
    needs: tuple[str, ...] = ()  # checks that must pass first, else this one is skipped


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    name: str
    title: str
    group: str
    status: Status
    detail: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED


@dataclass(frozen=True, kw_only=True)
class Report:
    project: str
    run_id: str
    images: dict[str, str]  # "db"/"dev" -> image reference
    checks: tuple[CheckResult, ...]
    postgres: dict[str, str | None]  # version, server_version, pgvector
    dev: dict[str, str | None]  # python, pg_config, libpq, psycopg, drivers
    seconds: float
    notes: tuple[str, ...] = field(default=())  # e.g. leftovers removed before the run

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if c.status is Status.FAILED)

    @property
    def skipped(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if c.status is Status.SKIPPED)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "project": self.project,
            "run_id": self.run_id,
            "seconds": self.seconds,
            "images": self.images,
            "postgres": self.postgres,
            "dev": self.dev,
            "failed": list(self.failed),
            "notes": list(self.notes),
            "checks": [
                {
                    "name": c.name,
                    "ok": c.ok,
                    "status": c.status.value,
                    "group": c.group,
                    "title": c.title,
                    "detail": c.detail,
                    "seconds": c.seconds,
                }
                for c in self.checks
            ],
        }


def one_line(text: str, limit: int = 0) -> str:
    flat = " ".join(text.split())
    if limit and len(flat) > limit:
        return flat[: limit - 1] + "…"
    return flat


def describe_exception(exc: BaseException) -> str:
    """One line for an unexpected exception inside a check: its type and first message line."""
    explanation = getattr(exc, "explanation", None)  # docker's APIError: the engine's words
    message = str(explanation or exc).strip().splitlines()
    text = message[0] if message else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Checks:
    """Thread-safe collector: checks run (or are skipped) in any order, the report lists them in
    catalogue order, and a check that never ran is reported as skipped with the reason given."""

    def __init__(self, catalogue: tuple[CheckSpec, ...]) -> None:
        self._specs = {spec.name: spec for spec in catalogue}
        self._order = tuple(spec.name for spec in catalogue)
        self._results: dict[str, CheckResult] = {}
        self._notes: list[str] = []
        self._lock = threading.Lock()
        self.info: dict[str, dict[str, str | None]] = {"postgres": {}, "dev": {}}

    def add(self, specs: tuple[CheckSpec, ...], *, after: str) -> None:
        """Checks only a running check can name (the drivers the dev image holds), listed
        right after `after`: before they run, so a report lists them whatever happens next."""
        with self._lock:
            new = [s for s in specs if s.name not in self._specs]
            self._specs.update((s.name, s) for s in new)
            at = self._order.index(after) + 1
            self._order = (*self._order[:at], *(s.name for s in new), *self._order[at:])

    def note(self, text: str) -> None:
        """A line for the report's notes (what was not checked, and why)."""
        with self._lock:
            self._notes.append(text)

    def spec(self, name: str) -> CheckSpec:
        return self._specs[name]

    def status(self, name: str) -> Status | None:
        with self._lock:
            result = self._results.get(name)
        return result.status if result else None

    def passed(self, name: str) -> bool:
        return self.status(name) is Status.PASSED

    def record(self, name: str, status: Status, detail: str, seconds: float = 0.0) -> None:
        spec = self._specs[name]
        result = CheckResult(
            name=name,
            title=spec.title,
            group=spec.group,
            status=status,
            detail=one_line(detail),
            seconds=round(seconds, 3),
        )
        with self._lock:
            self._results.setdefault(name, result)

    def run(self, name: str, check: Callable[[], str]) -> bool:
        """Run `check` unless a check it needs did not pass; record the outcome; True if passed.
        CheckFailed carries the detail; any other Exception fails the check with its message.
        KeyboardInterrupt and other BaseExceptions propagate."""
        blocked = [n for n in self._specs[name].needs if not self.passed(n)]
        if blocked:
            self.record(name, Status.SKIPPED, f"needs {', '.join(blocked)}")
            return False
        started = time.monotonic()
        try:
            detail = check()
        except CheckFailed as exc:
            self.record(name, Status.FAILED, str(exc), time.monotonic() - started)
            return False
        except Exception as exc:
            self.record(name, Status.FAILED, describe_exception(exc), time.monotonic() - started)
            return False
        self.record(name, Status.PASSED, detail, time.monotonic() - started)
        return True

    def skip_unrun(self, reason: str) -> None:
        """Record every check that never ran as skipped: because of what it needs, if that did
        not pass, else for `reason`. (Catalogue order lists what a check needs before it.)"""
        for name in self._order:
            blocked = [n for n in self._specs[name].needs if not self.passed(n)]
            self.record(name, Status.SKIPPED, f"needs {', '.join(blocked)}" if blocked else reason)

    def report(
        self,
        *,
        project: str,
        run_id: str,
        images: dict[str, str],
        seconds: float,
        notes: tuple[str, ...] = (),
    ) -> Report:
        self.skip_unrun("not run")
        with self._lock:
            checks = tuple(self._results[n] for n in self._order)
            notes = (*notes, *self._notes)
        return Report(
            project=project,
            run_id=run_id,
            images=dict(images),
            checks=checks,
            postgres=dict(self.info["postgres"]),
            dev=dict(self.info["dev"]),
            seconds=round(seconds, 3),
            notes=notes,
        )


# --- writers -----------------------------------------------------------------------------------

_MARK = {Status.PASSED: "ok", Status.FAILED: "FAIL", Status.SKIPPED: "skip"}


def render_table(report: Report, *, width: int = 0) -> str:
    """The terminal table; with `width`, details are cut to fit it (0: never cut)."""
    name_width = max((len(c.name) for c in report.checks), default=4)
    lines = [
        f"devenv verify {report.project}: {report.images.get('db', '-')} + "
        f"{report.images.get('dev', '-')} (run {report.run_id}, {report.seconds:.1f}s)"
    ]
    lines += [f"  {note}" for note in report.notes]
    room = max(20, width - name_width - 10) if width else 0
    for check in report.checks:
        detail = one_line(check.detail or check.title, room)
        lines.append(f"  {_MARK[check.status]:4}  {check.name:{name_width}}  {detail}")
    pg, dev = report.postgres, report.dev
    facts = [
        f"PostgreSQL {pg['version']}" if pg.get("version") else "",
        f"pgvector {pg['pgvector']}" if pg.get("pgvector") else "",
        f"Python {dev['python']}" if dev.get("python") else "",
        f"libpq {dev['libpq']}" if dev.get("libpq") else "",
    ]
    if any(facts):
        lines.append("  " + ", ".join(f for f in facts if f))
    passed = sum(c.ok for c in report.checks)
    summary = f"{len(report.checks)} checks: {passed} passed"
    if report.failed:
        summary += f", {len(report.failed)} failed ({', '.join(report.failed)})"
    if report.skipped:
        summary += f", {len(report.skipped)} skipped"
    lines.append(summary)
    return "\n".join(lines)


def render_junit(report: Report) -> str:
    suites = ET.Element(
        "testsuites",
        name="devenv verify",
        tests=str(len(report.checks)),
        failures=str(len(report.failed)),
        errors="0",
        skipped=str(len(report.skipped)),
        time=f"{report.seconds:.3f}",
    )
    for group in dict.fromkeys(c.group for c in report.checks):
        checks = [c for c in report.checks if c.group == group]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"devenv.verify.{group}",
            tests=str(len(checks)),
            failures=str(sum(c.status is Status.FAILED for c in checks)),
            errors="0",
            skipped=str(sum(c.status is Status.SKIPPED for c in checks)),
            time=f"{sum(c.seconds for c in checks):.3f}",
        )
        for check in checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"devenv.verify.{group}",
                name=check.name,
                time=f"{check.seconds:.3f}",
            )
            if check.status is Status.FAILED:
                failure = ET.SubElement(case, "failure", message=check.detail, type="check")
                failure.text = f"{check.title}\n{check.detail}"
            elif check.status is Status.SKIPPED:
                ET.SubElement(case, "skipped", message=check.detail)
            else:
                ET.SubElement(case, "system-out").text = f"{check.title}: {check.detail}"
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def write_junit(path: Path, report: Report) -> None:
    try:
        atomic_write(path, render_junit(report))
    except OSError as exc:
        raise VerifyError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            hint="pass a path in a writable folder",
        ) from exc


def failure(report: Report) -> VerifyFailed:
    if report.failed:
        said = f"{len(report.failed)} check(s) failed: {', '.join(report.failed)}"
    else:  # nothing failed, yet not everything ran: say what did not
        said = f"{len(report.skipped)} check(s) skipped: {', '.join(report.skipped)}"
    return VerifyFailed(
        f"verify of {report.project}: {said}",
        hint="the table above says why, and whose it is: fix the project's requirements or "
        "plan, `devenv build`, then verify again; report devenv's",
    )
