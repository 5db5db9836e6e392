"""`devenv generate`: render every file, then check or write them, and set up local files."""

from __future__ import annotations

from pathlib import Path

from devenv.container.certs import check_folder, collect_certificates, write_certificates
from devenv.files import atomic as output
from devenv.files.local import GITIGNORE, ensure_env_file, gitignore_update, write_local_compose
from devenv.files.safety import check_real_dirs
from devenv.plan.model import Plan
from devenv.render.compose import ENV_FILE, LOCAL_COMPOSE
from devenv.render.files import TMP_SUFFIX, render_all
from devenv.steps.compile import CERTS_DIR
from devenv.support.exclusive_run import generate_lock


def generate_files(plan: Plan, *, check: bool, force: bool) -> list[str]:
    files = render_all(plan)
    root = plan.project_dir
    if check:
        output.check(root, files)
        return [f"{len(files)} generated files are current"]
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
        lines = [f"{c.status.value:9} {c.path}" for c in output.write(root, files, force=force)]
        if ensure_env_file(root):
            lines.append("created   .devenv/db.env (database password, git-ignored)")
        if write_local_compose(plan):
            lines.append(f"wrote     {LOCAL_COMPOSE} (devenv.local.toml overrides, git-ignored)")
        if gitignore is not None:
            output.atomic_write(root / GITIGNORE, gitignore)
            lines.append(f"updated   .gitignore (+ {', '.join(added)})")
        certs = write_certificates(root / CERTS_DIR, host_certs)
    if certs.written or certs.removed:
        lines.append(
            f"synced    {CERTS_DIR}: {len(certs.written)} written, "
            f"{len(certs.removed)} removed, from {', '.join(certs.sources)}"
        )
    return lines


def _remove_leftovers(root: Path, written: list[str]) -> None:
    """Temporary files of a generate killed half way (only generate writes these names, and
    it holds the lock)."""
    for rel in written:
        path = root / rel
        name = "*.crt" if rel.startswith(f"{CERTS_DIR}/") else path.name
        for leftover in path.parent.glob(f".{name}.*{TMP_SUFFIX}"):
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink()
