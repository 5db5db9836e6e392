"""What a host-install did, step by step: the progress lines' outcome, the summary, --json."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from devenv.errors import HostError
from devenv.plan.model import Plan


class Status(str, enum.Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Options:
    with_db: bool = False
    dry_run: bool = False
    recreate: bool = False


@dataclass(frozen=True, kw_only=True)
class StepResult:
    name: str
    title: str
    status: Status
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class HostReport:
    plan: Plan
    options: Options
    steps: tuple[StepResult, ...]
    seconds: float
    database_url: str | None = None
    notes: tuple[str, ...] = ()
    error: HostError | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted

    @property
    def error_text(self) -> str | None:
        if self.error is not None:
            return str(self.error)
        return "interrupted" if self.interrupted else None

    @property
    def changed(self) -> int:
        return sum(1 for s in self.steps if s.status is Status.CHANGED)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "changed": self.changed,
            "dry_run": self.options.dry_run,
            "with_db": self.options.with_db,
            "seconds": round(self.seconds, 2),
            "venv": str(self.plan.project_dir / self.plan.python.venv),
            "database_url": self.database_url,
            "error": self.error_text,
            "notes": list(self.notes),
            "steps": [
                {"name": s.name, "title": s.title, "status": s.status.value, "detail": s.detail}
                for s in self.steps
            ],
        }

    def summary(self) -> list[str]:
        counts = {st: sum(1 for s in self.steps if s.status is st) for st in Status}
        tally = ", ".join(
            f"{counts[st]} {st.value}" for st in Status if counts[st] or st is Status.CHANGED
        )
        if self.options.dry_run:
            lines = [
                f"dry run: nothing was changed; {counts[Status.CHANGED]} step(s) would "
                f"change something ({self.seconds:.1f}s)"
            ]
            lines += [f"note: {n}" for n in self.notes]
            return lines
        lines = [f"host-install: {tally} ({self.seconds:.1f}s)"]
        if not self.ok:
            return lines
        venv = self.plan.python.venv
        lines.append(f"venv: {self.plan.project_dir / venv}")
        lines.append(f"  activate it in {self.plan.project_dir}:  source {venv}/bin/activate")
        lines.append(f"  or run its tools directly:  {venv}/bin/python, {venv}/bin/pip")
        if self.database_url:
            lines.append(f"DATABASE_URL={self.database_url}")
            lines.append("  (the current user's role over the local socket; no password)")
        else:
            lines.append(
                f"database: none set up here; `devenv host-install --with-db` makes a local "
                f"PostgreSQL {self.plan.postgres.version} with "
                f"{', '.join(self.plan.postgres.extensions) or 'no extensions'}"
            )
        return lines

    def raise_for_status(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        if self.error is not None:
            raise self.error
