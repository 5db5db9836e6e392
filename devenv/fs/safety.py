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

from devenv.errors import DevenvError, UnsafePathError

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


def inside(project_dir: Path, rel: str, *, what: str) -> Path:
    """`project_dir/rel` when it resolves inside the project (symlinks inside it are fine);
    UnsafePathError (exit 2, one line) when a symlink on the way leads out of it, or loops."""
    root = Path(os.path.realpath(project_dir))
    path = root / rel
    try:
        real = Path(os.path.realpath(path, strict=False))
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise UnsafePathError(f"{path}: the {what} can't be resolved: {exc}") from None
    if real != root and not real.is_relative_to(root):
        raise UnsafePathError(
            f"{path}: the {what} leads outside the project (to {real}); devenv reads and "
            "writes only inside the project",
            hint="replace the symlink with a real file or folder inside the project",
        )
    return path


def project_path(project_dir: Path, rel: str, *, what: str) -> Path | None:
    """A project file devenv reads: inside the project (see `inside`), or None when it does
    not exist."""
    path = inside(project_dir, rel, what=what)
    try:
        path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UnsafePathError(f"{path}: the {what} can't be read: {exc.strerror}") from None
    return path


def read_bounded(path: Path, *, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; UnsafePathError (exit 2, one
    line) for a FIFO, a device, a folder or a bigger file. Opened without blocking, so a FIFO
    can't hang devenv, and never read past the limit, so /dev/zero can't fill memory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DevenvError(f"{path}: can't read the {what}: {exc.strerror}") from None
    try:
        return _read_fd(fd, path, limit=limit, what=what)
    except OSError as exc:  # an I/O error: the disk's fault, not the input's (exit 1)
        raise DevenvError(f"{path}: can't read the {what}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _read_fd(fd: int, path: Path, *, limit: int, what: str) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(
            f"{path}: the {what} is not a regular file (a FIFO, a device or a folder)",
            hint="make it a plain text file",
        )
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise UnsafePathError(
            f"{path}: the {what} is over {limit // 1024} KiB; devenv reads files of "
            "configuration, not data",
            hint="make it smaller",
        )
    return b"".join(chunks)


def files_in(project_dir: Path, folder: str, *, what: str) -> tuple[str, ...]:
    """The names of the files (not folders, not dot-files) in a project folder, in byte order
    (a shell glob's under LC_ALL=C); UnsafePathError (exit 2) when the folder or an entry
    leads outside the project (a script would then run, or SQL be read, from elsewhere)."""
    path = inside(project_dir, folder, what=what)
    names = []
    for entry in sorted(path.iterdir(), key=lambda p: p.name.encode()):
        if entry.name.startswith("."):
            continue
        inside(project_dir, f"{folder}/{entry.name}", what=f"file of the {what}")
        if entry.is_file():
            names.append(entry.name)
    return tuple(names)
