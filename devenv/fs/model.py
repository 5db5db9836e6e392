"""A generated file as renderers produce it and files/ writes it: the value both sides share,
so writing never imports the renderers (nor what they import: the plan, the steps)."""

from __future__ import annotations

from dataclasses import dataclass

TMP_SUFFIX = ".devenv-tmp"  # what atomic_write names its temporary files


@dataclass(frozen=True, kw_only=True)
class GeneratedFile:
    path: str  # project-relative, POSIX
    content: str
    executable: bool = False
