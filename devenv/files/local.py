"""Files that belong to one checkout, not to the project: the database password, CA copies.

They are git-ignored; devenv creates them when missing and never overwrites what is there.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from devenv.fs.atomic import atomic_write
from devenv.fs.model import TMP_SUFFIX
from devenv.fs.safety import check_real_dirs
from devenv.plan.local import LOCAL_FILE
from devenv.plan.model import Plan
from devenv.render.compose import (
    ENV_FILE,
    LOCAL_COMPOSE,
    LOCAL_DOCKERFILE,
    render_local_compose,
    render_local_dockerfile,
)
from devenv.steps.model import CERTS_DIR
from devenv.steps.recipe import Recipe

GITIGNORE = ".gitignore"
IGNORED = (".devenv/", f"{CERTS_DIR}/*.crt", LOCAL_FILE)


def ensure_env_file(project_dir: Path) -> bool:
    """Create .devenv/db.env with a random password (mode 0600). True when it was created."""
    path = project_dir / ENV_FILE
    if os.path.lexists(path):
        return False
    password = secrets.token_hex(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written in full under a temporary name, then hard-linked into place: link() fails when
    # the name exists, so of two racing runs exactly one password wins, and no reader ever
    # sees a half-written file.
    fd, tmp = tempfile.mkstemp(prefix=".db.env.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"POSTGRES_PASSWORD={password}\nPGPASSWORD={password}\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    return True


def gitignore_update(project_dir: Path) -> tuple[bytes | None, tuple[str, ...]]:
    """(new .gitignore content or None when nothing is missing, the lines added). Read as
    bytes: git takes any encoding, and so does this."""
    path = project_dir / GITIGNORE
    data = path.read_bytes() if path.exists() else b""
    present = {line.strip() for line in data.splitlines()}
    missing = tuple(p for p in IGNORED if p.encode() not in present)
    if not missing:
        return None, ()
    lead = b"" if not data or data.endswith(b"\n") else b"\n"
    block = "# local to this checkout (devenv)\n" + "".join(f"{p}\n" for p in missing)
    return data + lead + block.encode(), missing


def write_local_compose(plan: Plan, recipe: Recipe | None = None) -> bool:
    """.devenv/compose.local.yaml from devenv.local.toml (an empty override without one).
    True when it changed."""
    # `devenv run` writes here too: never through a symlinked .devenv (generate refuses it).
    check_real_dirs(plan.project_dir, [LOCAL_COMPOSE, LOCAL_DOCKERFILE])
    changed = False
    dockerfile = render_local_dockerfile(plan, recipe)
    for rel, content in (
        (LOCAL_COMPOSE, render_local_compose(plan)),
        (LOCAL_DOCKERFILE, dockerfile),
    ):
        path = plan.project_dir / rel
        if content is None:
            if path.is_file() and not path.is_symlink():
                path.unlink()
                changed = True
            continue
        if path.is_file() and not path.is_symlink() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, content.encode())
        changed = True
    return changed
