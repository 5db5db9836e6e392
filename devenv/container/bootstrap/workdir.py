"""The temporary folder a bootstrap works in, removed without crossing into a mount."""

from __future__ import annotations

import re
from pathlib import Path

from devenv.container.bootstrap.process import Log, run_logged


def _unescape_mount(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mounts_under(directory: Path) -> list[str]:
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    top = str(directory)
    points = [_unescape_mount(line.split()[1]) for line in lines if len(line.split()) > 1]
    return [p for p in points if p == top or p.startswith(top + "/")]


def remove_workdir(workdir: Path, prefix: list[str], log: Log) -> None:
    """Remove the temporary directory; unmount what debootstrap may have left mounted first,
    and never cross into another file system."""
    for point in sorted(mounts_under(workdir), key=len, reverse=True):
        run_logged([*prefix, "umount", "--lazy", point], log)
    left = mounts_under(workdir)
    if left:
        log(f"warning: not removing {workdir}: still mounted: {', '.join(left)}")
        return
    if run_logged([*prefix, "rm", "-rf", "--one-file-system", "--", str(workdir)], log) != 0:
        log(f"warning: could not remove {workdir}; remove it by hand")
