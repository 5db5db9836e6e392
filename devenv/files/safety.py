"""Where devenv may write and delete: real folders inside the project, and nowhere else.

devenv often runs as root. A plan value or a symlink in the project must never turn a write
into one outside the project, or a delete into the loss of the project: every write target is
checked here before anything is written, and every delete goes through `remove_tree`, which
checks for itself that it deletes inside devenv's own state folder.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from devenv.errors import UnsafePathError

STATE_DIR = ".devenv"
# Folders devenv owns (it writes into them) and the repository itself: never a venv, never a
# requirements file's home.
OWN_DIRS = (STATE_DIR, "docker", ".devcontainer")
PROTECTED_DIRS = (*OWN_DIRS, ".git")
# Files devenv reads or writes at the project root: never a venv path.
OWN_FILES = ("devenv.toml", "devenv.lock", "compose.yaml", ".gitignore", ".dockerignore")


def protected_part(value: str) -> str | None:
    """The reason a project-relative path may not be a venv, or None when it may."""
    parts = PurePosixPath(value).parts
    if not parts:
        return "is the project folder itself"
    if parts[0] in PROTECTED_DIRS:
        return f"is inside {parts[0]}/, which devenv or git owns"
    if len(parts) == 1 and parts[0] in OWN_FILES:
        return f"is {parts[0]}, a file devenv reads or writes"
    return None


def check_real_dirs(project_dir: Path, paths: Iterable[str]) -> None:
    """Refuse (UnsafePathError, exit 2) when any of `paths` (project-relative files or
    folders), or a folder on the way to one, is a symlink: writing there would follow it,
    possibly out of the project. Only checks; call it before writing anything."""
    for rel in paths:
        current = project_dir
        parts = PurePosixPath(rel).parts
        for part in parts:
            current = current / part
            try:
                info = current.lstat()
            except (FileNotFoundError, NotADirectoryError):
                break  # created later as a real folder, or writing there fails on its own
            except OSError as exc:
                raise UnsafePathError(
                    f"{current}: can't inspect it: {exc.strerror}; nothing was written"
                ) from None
            if stat.S_ISLNK(info.st_mode):
                raise UnsafePathError(
                    f"{current} is a symlink (to {os.readlink(current)!r}); devenv writes only "
                    "into real files and folders inside the project; nothing was written",
                    hint="replace the link with a real folder (or remove it) and run again",
                )


def remove_tree(project_dir: Path, path: Path) -> None:
    """Delete `path`, a folder inside `.devenv/` reached through real folders only.

    Anything else raises UnsafePathError and deletes nothing: this is the one place devenv
    deletes a tree, so the check lives here rather than in each caller."""
    root = Path(os.path.abspath(project_dir))
    target = Path(os.path.abspath(path))
    state = root / STATE_DIR
    if not target.is_relative_to(state) or target == state:
        raise UnsafePathError(f"refusing to delete {target}: it is not inside {state}")
    current = root
    for part in target.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(f"refusing to delete {target}: {current} is a symlink")
    if not target.is_dir():
        raise UnsafePathError(f"refusing to delete {target}: it is not a folder")
    shutil.rmtree(target)
