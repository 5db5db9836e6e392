"""Every error a user can cause, each with what failed, why, and how to fix it.

Exit codes: 0 ok, 1 a check or operation failed, 2 bad usage or bad plan, 130 interrupted.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the project; try again later
MESSAGE_LIMIT = 600


def printable(text: str, *, limit: int | None = MESSAGE_LIMIT, keep: str = "") -> str:
    """`text` safe to print on a terminal: every non-printable character (controls, escape
    sequences, bidi overrides, line breaks unless kept) shown escaped, and cut to `limit`."""
    out = "".join(
        c if c.isprintable() or c in keep else c.encode("unicode_escape").decode("ascii")
        for c in text
    )
    if limit is not None and len(out) > limit:
        # The middle goes: a message's head says what failed, its tail why (a build's last words).
        head = (limit - 1) // 2
        out = out[:head] + "…" + out[len(out) - (limit - 1 - head) :]
    return out


class DevenvError(Exception):
    """Base of all errors shown to the user as one line, without a traceback."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # shown after the one-line message (a diff, a log tail)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def one_line(self) -> str:
        """The message shortened in the middle to fit MESSAGE_LIMIT, with the hint whole: how to
        fix it must survive however long the failure's own words are."""
        message = printable(self.message)
        return f"{message} ({printable(self.hint)})" if self.hint else message


class PlanError(DevenvError):
    """The plan (devenv.toml or a file it names) is invalid: nothing was written or run."""

    exit_code = EXIT_USAGE


class UsageError(DevenvError):
    exit_code = EXIT_USAGE


class StaleError(DevenvError):
    """A check found generated files or a lock out of date."""


class EngineError(DevenvError):
    """The Docker engine is missing, unreachable, or refused an operation."""


class BuildError(DevenvError):
    """An image build failed; the message names the failing step."""


class HostError(DevenvError):
    """A native (host-install) step failed or cannot run here."""


class VerifyError(DevenvError):
    """A verification could not run (distinct from a check that ran and failed)."""


class ComposeError(DevenvError):
    """`docker compose` is missing, or starting or stopping the project's services failed."""


class UnsafePathError(DevenvError):
    """A write or delete would leave the project or hit what devenv does not own."""

    exit_code = EXIT_USAGE


class BusyError(DevenvError):
    """Another devenv run holds this project's lock."""

    exit_code = EXIT_BUSY
