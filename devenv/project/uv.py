"""Where uv is: the resolver devenv runs for the requirements review, `devenv lock` and the
export of a pyproject project's lock."""

from __future__ import annotations

import shutil


def find_uv() -> str | None:
    """uv is a dependency of devenv: the one installed beside it, else the first on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")
