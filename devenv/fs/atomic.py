"""Writing generated files: compare, check, or write atomically — never a half-written file.

A file is replaced only when devenv wrote it (its header digest still matches its body) or
with --force; a hand-edited file is reported and nothing at all is written.
"""

from __future__ import annotations

import difflib
import enum
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import DevenvError, StaleError, UsageError
from devenv.fs.header import edited_by_hand
from devenv.fs.model import TMP_SUFFIX, GeneratedFile
from devenv.fs.safety import read_bounded

MAX_GENERATED = 16 * 1024 * 1024


class Status(str, enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, kw_only=True)
class FileChange:
    path: str
    status: Status
    diff: str  # unified diff from the file on disk to the new content ("" when unchanged)
    hand_edited: bool
    undecodable: bool = False  # on disk, not UTF-8 text


def compare(project_dir: Path, files: Iterable[GeneratedFile]) -> tuple[FileChange, ...]:
    changes = []
    for f in files:
        target = project_dir / f.path
        # Bounded and regular files only: a FIFO or /dev/zero in a generated file's place is
        # one line (exit 2), not a hang.
        raw = read_bounded(target, limit=MAX_GENERATED, what="file") if target.exists() else None
        try:
            old = raw.decode("utf-8") if raw is not None else None
            undecodable = False
        except UnicodeDecodeError:  # not devenv's output: treated as edited by hand
            old, undecodable = raw.decode("utf-8", errors="replace"), True  # type: ignore[union-attr]
        if old == f.content:
            changes.append(
                FileChange(path=f.path, status=Status.UNCHANGED, diff="", hand_edited=False)
            )
            continue
        diff = "".join(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                f.content.splitlines(keepends=True),
                fromfile=f"a/{f.path}" if old is not None else "/dev/null",
                tofile=f"b/{f.path}",
            )
        )
        changes.append(
            FileChange(
                path=f.path,
                status=Status.CREATED if old is None else Status.UPDATED,
                diff=diff,
                hand_edited=undecodable or (old is not None and edited_by_hand(old)),
                undecodable=undecodable,
            )
        )
    return tuple(changes)


def check(project_dir: Path, files: Iterable[GeneratedFile]) -> tuple[FileChange, ...]:
    """Raise StaleError (exit 1) carrying the diff when any file is not what the plan gives."""
    changes = compare(project_dir, files)
    stale = [c for c in changes if c.status is not Status.UNCHANGED]
    if stale:
        names = ", ".join(c.path for c in stale)
        raise StaleError(
            f"{len(stale)} generated file(s) are stale: {names}",
            hint="run `devenv generate` to update them",
            details="".join(c.diff for c in stale),
        )
    return changes


def write(
    project_dir: Path, files: tuple[GeneratedFile, ...], *, force: bool, dry_run: bool = False
) -> tuple[FileChange, ...]:
    changes = compare(project_dir, files)
    edited = [c.path for c in changes if c.hand_edited]
    binary = [c.path for c in changes if c.undecodable]
    if binary and not force:
        raise UsageError(
            f"{', '.join(binary)}: not UTF-8 text, so not a file devenv wrote; nothing was written",
            hint="move it aside, or run `devenv generate --force` to replace it",
        )
    if edited and not force:
        raise DevenvError(
            f"{', '.join(edited)} {'was' if len(edited) == 1 else 'were'} edited by hand; "
            "nothing was written",
            hint="move your edits into devenv.toml, or run `devenv generate --force` to replace",
        )
    if not dry_run:
        by_path = {f.path: f for f in files}
        write_all(
            [
                (project_dir / c.path, by_path[c.path].content, by_path[c.path].executable)
                for c in changes
                if c.status is not Status.UNCHANGED
            ]
        )
    return changes


def write_all(items: list[tuple[Path, str, bool]]) -> None:
    """Write (path, content, executable) as one set: every file goes to a temporary name
    first, and only when all of them are on disk are they renamed into place, so a full disk
    or a read-only folder leaves the old set, never a mix."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, content, executable in items:
            staged.append((_stage(path, content, 0o755 if executable else 0o644), path))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def atomic_write(path: Path, content: str | bytes, *, mode: int = 0o644) -> None:
    """Write through a temporary file in the same folder and rename it into place."""
    tmp = _stage(path, content, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stage(path: Path, content: str | bytes, mode: int) -> str:
    """`content` in a complete temporary file beside `path` (same folder: the rename that
    follows is atomic); returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp
