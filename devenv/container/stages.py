"""The generated Dockerfile's stages as the builds use them: the shared stage every image
stands on, and each image's own Dockerfile (the shared stage plus its stage)."""

from __future__ import annotations

import re

#: The Dockerfile stage the dev and db stages both start FROM (not the base image it starts
#: from, nor `devenv base`).
SHARED_STAGE = "base"

_FROM_AS = re.compile(r"^FROM \S+ AS (\S+)$", re.IGNORECASE)


def stage_named(instruction: str) -> str | None:
    """The stage a ``FROM IMAGE AS NAME`` instruction starts; None for any other line."""
    match = _FROM_AS.match(instruction.strip())
    return match[1] if match else None


def stage_dockerfile(text: str, target: str) -> str:
    """``text`` (the generated Dockerfile) with only the shared stage and ``target``'s stage:
    what precedes the first FROM, the shared stage, and the stage named ``target``."""
    kept: list[str] = []
    keep = True
    for line in text.splitlines(keepends=True):
        stage = stage_named(line)
        if stage is not None:
            keep = stage in (SHARED_STAGE, target)
        if keep:
            kept.append(line)
    return "".join(kept)
