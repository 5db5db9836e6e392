"""`devenv generate`: render every file, then check or write them, and set up local files.

The result is data (one `Changed` per file or folder touched); `Generated.lines()` is the one
place its text is made, so every command prints the same words for the same change."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from devenv.files.certs import CertSync, check_folder, collect_certificates, write_certificates
from devenv.files.local import GITIGNORE, ensure_env_file, gitignore_update, write_local_compose
from devenv.fs import atomic as output
from devenv.fs.model import TMP_SUFFIX, GeneratedFile
from devenv.fs.safety import check_real_dirs
from devenv.plan.model import Plan
from devenv.render.compose import ENV_FILE, LOCAL_COMPOSE
from devenv.render.files import render_all
from devenv.steps.model import CERTS_DIR
from devenv.steps.recipe import Recipe, compile_plan
from devenv.support.exclusive_run import generate_lock


class Change(str, enum.Enum):
    """What generate did to one path (the value is the word it prints)."""

    CREATED = "created"  # a new file
    UPDATED = "updated"  # an existing file rewritten (or, for .gitignore, lines added)
    UNCHANGED = "unchanged"  # already what the plan gives: not written
    WROTE = "wrote"  # a git-ignored local file, rewritten from devenv.local.toml
    SYNCED = "synced"  # a folder made to hold exactly the host's files


@dataclass(frozen=True, kw_only=True)
class Changed:
    path: str  # project-relative
    change: Change
    note: str = ""  # why / what, for the text: "database password, git-ignored"

    def line(self) -> str:
        if self.change is Change.SYNCED:
            return f"{self.change.value:9} {self.path}: {self.note}"
        note = f" ({self.note})" if self.note else ""
        return f"{self.change.value:9} {self.path}{note}"


@dataclass(frozen=True, kw_only=True)
class Generated:
    changes: tuple[Changed, ...]
    checked: bool = False  # --check: nothing written, every generated file is current

    @property
    def changed(self) -> tuple[Changed, ...]:
        """What was written (everything but UNCHANGED)."""
        return tuple(c for c in self.changes if c.change is not Change.UNCHANGED)

    def lines(self, *, changed_only: bool = False) -> list[str]:
        if self.checked:
            return [] if changed_only else [f"{len(self.changes)} generated files are current"]
        return [c.line() for c in (self.changed if changed_only else self.changes)]


def generate_files(
    plan: Plan, *, check: bool, force: bool, recipe: Recipe | None = None
) -> Generated:
    recipe = recipe or compile_plan(plan)
    files = render_all(recipe)
    root = plan.project_dir
    if check:
        return _checked(root, files)
    # Everything is read and checked before anything is written: no write may follow a
    # symlink, and a bad file anywhere leaves the project as it was.
    written = [*(f.path for f in files), ENV_FILE, LOCAL_COMPOSE, GITIGNORE, f"{CERTS_DIR}/x.crt"]
    check_real_dirs(root, written)
    check_folder(root / CERTS_DIR)
    host_certs = collect_certificates()
    gitignore, added = gitignore_update(root)
    output.write(root, files, force=force, dry_run=True)  # raises for hand-edited files
    with generate_lock(root):
        _remove_leftovers(root, written)
        changes = [
            Changed(path=c.path, change=Change(c.status.value))
            for c in output.write(root, files, force=force)
        ]
        changes += _write_local_files(plan, recipe)
        changes += _write_gitignore(root, gitignore, added)
        certs = write_certificates(root / CERTS_DIR, host_certs)
    if certs.written or certs.removed:
        changes.append(_certs_synced(certs))
    return Generated(changes=tuple(changes))


def _checked(root: Path, files: tuple[GeneratedFile, ...]) -> Generated:
    """--check: every generated file current (else StaleError with the diff), nothing written."""
    current = output.check(root, files)  # raises StaleError with the diff
    return Generated(
        changes=tuple(Changed(path=c.path, change=Change.UNCHANGED) for c in current),
        checked=True,
    )


def _write_local_files(plan: Plan, recipe: Recipe) -> list[Changed]:
    """The git-ignored files: .env made when missing, the local compose file rewritten."""
    changes = []
    if ensure_env_file(plan.project_dir):
        changes.append(
            Changed(path=ENV_FILE, change=Change.CREATED, note="database password, git-ignored")
        )
    if write_local_compose(plan, recipe):
        changes.append(
            Changed(
                path=LOCAL_COMPOSE,
                change=Change.WROTE,
                note="devenv.local.toml overrides, git-ignored",
            )
        )
    return changes


def _write_gitignore(root: Path, gitignore: bytes | None, added: tuple[str, ...]) -> list[Changed]:
    """.gitignore written with the lines it gains (``added``); None: it had them all."""
    if gitignore is None:
        return []
    output.atomic_write(root / GITIGNORE, gitignore)
    return [Changed(path=GITIGNORE, change=Change.UPDATED, note=f"+ {', '.join(added)}")]


def _certs_synced(certs: CertSync) -> Changed:
    return Changed(
        path=CERTS_DIR,
        change=Change.SYNCED,
        note=f"{len(certs.written)} written, {len(certs.removed)} removed, "
        f"from {', '.join(certs.sources)}",
    )


def _remove_leftovers(root: Path, written: list[str]) -> None:
    """Temporary files of a generate killed half way (only generate writes these names, and
    it holds the lock)."""
    for rel in written:
        path = root / rel
        name = "*.crt" if rel.startswith(f"{CERTS_DIR}/") else path.name
        for leftover in path.parent.glob(f".{name}.*{TMP_SUFFIX}"):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()
