"""Content-addressed image tags: one tag per image, derived from everything it is built from.

A target's tag hashes its build inputs: the Dockerfile it is built with (the shared stage and
its own, as rendered from the plan), the bytes and modes of every file those COPY lines take
from the build context (after .dockerignore, as the engine receives them), devenv.lock, the
plan digest its label carries, and the base image's content (:func:`base_identity`: its layers
and the config a build on it sees, never its local id). Same inputs, same tag, on any machine,
engine and image store; change one and the tag changes, so a registry lookup by tag is a cache
lookup.

:func:`content_tag` is the one place that decides; it takes plain values, so it can later be
fed a compiled recipe's fingerprint instead of the Dockerfile text.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv.container.stages import stage_dockerfile
from devenv.plan.lockfile import LOCK_FILE
from devenv.plan.model import Plan, Target
from devenv.steps.recipe import Recipe

#: Bumped when what goes into a tag changes meaning, so old tags never match new images.
SCHEME = "devenv-content-v2"  # v2: the base by its content, not its id
TAG_LENGTH = 32  # hex digits: 128 bits
#: What of the base's config a build on it sees or its images inherit (`docker image inspect`'s
#: Config keys). The rest (Hostname, Image, the Attach* flags) differs between engines and
#: image stores for one image and changes nothing that is built.
BASE_CONFIG_KEYS = (
    "User",
    "Env",
    "WorkingDir",
    "Entrypoint",
    "Cmd",
    "Shell",
    "OnBuild",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
    "Healthcheck",
)


@dataclass(frozen=True, kw_only=True)
class TagInputs:
    """What one target is built from, as plain values."""

    target: str
    dockerfile: str  # the per-target Dockerfile text
    files: Mapping[str, tuple[int, bytes]]  # context-relative path -> (mode, bytes)
    lock: bytes | None  # devenv.lock's bytes, None without one
    plan_digest: str  # the recipe's fingerprint for the target (the dev.devenv.plan label)
    base: str  # the base image's content (base_identity)


def content_tag(inputs: TagInputs) -> str:
    """The tag for ``inputs``: a hex digest over all of them, each length-prefixed."""
    digest = hashlib.sha256()

    def part(name: str, data: bytes) -> None:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)

    part("scheme", SCHEME.encode())
    part("target", inputs.target.encode())
    part("dockerfile", inputs.dockerfile.encode())
    for path in sorted(inputs.files):
        mode, data = inputs.files[path]
        part(f"file {path} {mode & 0o7777:o}", data)
    part("lock", b"" if inputs.lock is None else b"1" + inputs.lock)
    part("plan", inputs.plan_digest.encode())
    part("base", inputs.base.encode())
    return digest.hexdigest()[:TAG_LENGTH]


def base_identity(info: Mapping[str, Any]) -> str:
    """The base image's content, from its `docker image inspect` result: the diff ids of its
    layers, the config a build on it sees and its platform, as ``sha256:…``. Not its ``Id``:
    that is the config's digest on the overlay2 store but the manifest's on the containerd
    image store, so one pushed image has two ids (and a local rebuild of equal content a
    third)."""
    config = info.get("Config") or {}
    content = {
        "layers": list((info.get("RootFS") or {}).get("Layers") or ()),
        # Unset and empty are one thing: stores differ in which they report.
        "config": {key: config[key] for key in BASE_CONFIG_KEYS if config.get(key)},
        "platform": [str(info.get(key) or "") for key in ("Os", "Architecture", "Variant")],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def copy_sources(dockerfile: str) -> tuple[str, ...]:
    """The build-context sources of every COPY/ADD line (not ``--from`` copies between
    stages), without trailing slashes, in order of appearance."""
    sources: list[str] = []
    for line in _instructions(dockerfile):
        word, _, rest = line.partition(" ")
        if word.upper() not in ("COPY", "ADD"):
            continue
        flags: list[str] = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        if any(f.startswith("--from") for f in flags):
            continue
        paths = [str(a) for a in json.loads(rest)] if rest.startswith("[") else shlex.split(rest)
        for source in paths[:-1]:
            cleaned = source.strip("/") or "."
            if cleaned not in sources:
                sources.append(cleaned)
    return tuple(sources)


def _instructions(dockerfile: str) -> Iterable[str]:
    """Instruction lines, with backslash continuations joined and comments dropped."""
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def copied_files(
    root: Path, sources: Iterable[str], context: Iterable[str]
) -> dict[str, tuple[int, bytes]]:
    """The files of ``context`` (what the engine receives) that the ``sources`` take:
    each path -> (mode, bytes)."""
    wanted = tuple(sources)
    out: dict[str, tuple[int, bytes]] = {}
    for rel in context:
        if not any(s == "." or rel == s or rel.startswith(s + "/") for s in wanted):
            continue
        path = root / rel
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            out[rel] = (info.st_mode, path.read_bytes())
        elif stat.S_ISLNK(info.st_mode):
            out[rel] = (info.st_mode, str(path.readlink()).encode())
    return out


def lock_bytes(plan: Plan) -> bytes | None:
    path = plan.project_dir / LOCK_FILE
    return path.read_bytes() if path.is_file() else None


def plan_tags(
    recipe: Recipe,
    *,
    dockerfile: str,
    context: Iterable[str],
    base: str,
    targets: Iterable[str],
) -> dict[str, str]:
    """Each target's content tag, from the generated Dockerfile, the build context's file
    list and the base image's content (base_identity)."""
    plan = recipe.plan
    files = list(context)
    lock = lock_bytes(plan)
    out: dict[str, str] = {}
    for target in targets:
        text = stage_dockerfile(dockerfile, target)
        out[target] = content_tag(
            TagInputs(
                target=target,
                dockerfile=text,
                files=copied_files(plan.project_dir, copy_sources(text), files),
                lock=lock,
                plan_digest=recipe.fingerprint(Target(target)),
                base=base,
            )
        )
    return out
