"""A check that passed is not run again while nothing it depends on changed.

A second `host-install` with nothing to do spends most of its time in `pip check` and the smoke
imports. Their result depends on what is installed: the venv's packages (pip adds or removes a
``*.dist-info`` entry, and rewrites site-packages, for every change), its interpreter, and the
system's packages (dpkg's status file). Each passing check records a fingerprint of those next
to the venv generation it checked; while the fingerprint is the same, the check reports that it
passed before instead of running again. Any install, removal or upgrade runs it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from devenv.fs.atomic import atomic_write

DPKG_STATUS = Path("/var/lib/dpkg/status")
MEMO_FOLDER = "checks"


def _stat(path: Path) -> list[int]:
    try:
        info = path.stat()
    except OSError:
        return []
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def fingerprint(venv: Path, argv: Sequence[str]) -> str:
    """What the check's result depends on, as one hash."""
    parts: list[object] = [list(argv), os.path.realpath(venv / "bin" / "python")]
    parts.append(_stat(Path(os.path.realpath(venv / "bin" / "python"))))
    parts.append(_stat(DPKG_STATUS))
    for site in sorted((venv / "lib").glob("python*/site-packages")):
        parts.append([str(site), _stat(site)])
        try:
            entries = sorted(os.scandir(site), key=lambda e: e.name)
        except OSError:
            continue
        parts.extend([e.name, _stat(Path(e.path))] for e in entries)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def memo_folder(venv: Path) -> Path | None:
    """Where a venv generation's check results live: beside it, in devenv's own folder
    (``.devenv/venvs/GEN/checks``); None for a venv devenv did not make."""
    generation = venv.parent
    if generation.parent.name != "venvs" or generation.parent.parent.name != ".devenv":
        return None
    return generation / MEMO_FOLDER


def passed_before(venv: Path, step_id: str, key: str) -> bool:
    folder = memo_folder(venv)
    if folder is None:
        return False
    try:
        return (folder / step_id).read_text(encoding="utf-8").strip() == key
    except (OSError, UnicodeDecodeError):
        return False


def remember(venv: Path, step_id: str, key: str) -> None:
    folder = memo_folder(venv)
    if folder is None or folder.is_symlink():
        return
    try:
        folder.mkdir(exist_ok=True)
        atomic_write(folder / step_id, key + "\n")
    except OSError:
        pass  # a memo is only a shortcut: without it the check runs next time
