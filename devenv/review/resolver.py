"""Resolve a requirement set for a target interpreter and platform, without installing it.

uv's `pip compile --format pylock.toml` for the target's Python version and manylinux platform
lists, per distribution, the wheels that fit the target; a distribution with none builds from
source. pip's `--dry-run --report` was measured too (bench/source_review.py): for another
interpreter pip needs `--only-binary=:all:`, so it stops at the first package without a wheel
(1.4-2.1 s to get there) where uv lists them all (2.4-2.7 s for `devenv plan` with nothing
cached, 0.3 s from devenv's cache).

Resolutions are cached on disk by (requirements bytes, target), so `plan` and `generate` stay
fast and give the same answer every time; a failed resolution is never cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from devenv.fs.atomic import atomic_write
from devenv.project.uv import find_uv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CACHE_FORMAT = "1"
# uv knows manylinux tags up to this glibc; a newer glibc still runs these wheels.
MAX_MANYLINUX = 40
TIMEOUT = 180  # seconds for one resolution
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_VERSION = re.compile(r"[A-Za-z0-9.+!_-]{0,64}")
_NETWORK = re.compile(
    r"Failed to fetch|error sending request|dns error|tcp connect error|Connection refused|"
    r"timed out|operation timed out|failed to lookup address|Network is unreachable"
)


@dataclass(frozen=True, kw_only=True)
class Target:
    """An interpreter and platform to resolve for: CPython X.Y on a glibc Linux machine."""

    python: str  # "3.13"
    machine: str  # "x86_64", "aarch64"
    glibc: str  # "2.41"

    @property
    def label(self) -> str:
        return f"CPython {self.python} on {self.machine}"

    def platform(self) -> str:
        major, minor = (int(p) for p in self.glibc.split(".")[:2])
        return f"{self.machine}-manylinux_{major}_{min(minor, MAX_MANYLINUX)}"


@dataclass(frozen=True, kw_only=True)
class Dist:
    name: str  # normalised
    version: str
    wheel: bool  # the index has a wheel that fits the target
    source: str  # "sdist", "vcs", "archive", "directory" or "" (where a build would come from)


@dataclass(frozen=True, kw_only=True)
class Resolution:
    target: Target
    dists: tuple[Dist, ...]  # sorted by name

    def source_builds(self) -> tuple[Dist, ...]:
        return tuple(d for d in self.dists if not d.wheel)


class ResolveError(Exception):
    """The resolution could not be made; `unreachable` when the index could not be reached."""

    def __init__(self, reason: str, *, unreachable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


def offline() -> bool:
    return os.environ.get("DEVENV_OFFLINE", "") not in ("", "0")


def cache_dir() -> Path:
    if os.environ.get("DEVENV_CACHE_DIR"):
        return Path(os.environ["DEVENV_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "devenv"


def cache_key(inputs: tuple[tuple[str, bytes], ...], target: Target) -> str:
    """(name, bytes) of each requirements file, in reading order, and the target."""
    data = {
        "format": CACHE_FORMAT,
        "files": [[name, hashlib.sha256(blob).hexdigest()] for name, blob in inputs],
        "target": asdict(target),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def resolve(
    roots: tuple[Path, ...] | None, inputs: tuple[tuple[str, bytes], ...], target: Target
) -> Resolution:
    """Resolve the requirements files `roots` (whose contents, includes too, are `inputs`;
    None: `inputs` are the files) for `target`: from the cache, else with uv (ResolveError
    when that fails)."""
    key = cache_key(inputs, target)
    path = cache_dir() / "resolutions" / f"{key}.json"
    cached = _read_cache(path, target)
    if cached is not None:
        return cached
    if offline():
        raise ResolveError("DEVENV_OFFLINE is set", unreachable=True)
    with _said_while_slow(f"reviewing the requirements for {target.label} (uv resolves them)"):
        resolution = _resolve_now(roots, inputs, target)
    with contextlib.suppress(OSError):  # a read-only cache only costs speed
        atomic_write(path, dump(resolution))
    return resolution


@contextlib.contextmanager
def _said_while_slow(doing: str, after: float = 1.0) -> Iterator[None]:
    """One line on stderr if the work takes longer than `after` seconds, and its time when it
    ends: a resolution against a slow index can take many seconds, and silence looks hung."""
    started = time.monotonic()
    spoke = threading.Event()

    def say() -> None:
        print(f"devenv: {doing}...", file=sys.stderr, flush=True)
        spoke.set()

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if spoke.is_set():
            print(f"devenv: {doing}: {time.monotonic() - started:.1f}s", file=sys.stderr)


def _resolve_now(
    roots: tuple[Path, ...] | None, inputs: tuple[tuple[str, bytes], ...], target: Target
) -> Resolution:
    if roots is None:
        with tempfile.TemporaryDirectory(prefix="devenv-inputs-") as tmp:
            files = [Path(tmp) / f"{n}-{Path(name).name}" for n, (name, _) in enumerate(inputs)]
            for file, (_, blob) in zip(files, inputs, strict=True):
                file.write_bytes(blob)
            return parse_pylock(_run_uv(tuple(files), target), target)
    return parse_pylock(_run_uv(roots, target), target)


def parse_pylock(text: str, target: Target) -> Resolution:
    """uv's pylock.toml for one target -> which distributions have a fitting wheel."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ResolveError(
            f"uv wrote an unreadable pylock.toml: {exc}", unreachable=False
        ) from None
    dists = []
    for package in data.get("packages", []):
        name = re.sub(r"[-_.]+", "-", str(package.get("name", ""))).lower()
        version = str(package.get("version", ""))
        # Both reach generated files (as comments): only what the grammars allow.
        if not _NAME.fullmatch(name) or not _VERSION.fullmatch(version):
            raise ResolveError(
                f"uv reported an unreadable distribution {name!r}", unreachable=False
            )
        source = next((k for k in ("sdist", "vcs", "archive", "directory") if k in package), "")
        dists.append(
            Dist(name=name, version=version, wheel=bool(package.get("wheels")), source=source)
        )
    return Resolution(target=target, dists=tuple(sorted(dists, key=lambda d: d.name)))


def dump(resolution: Resolution) -> str:
    data = {"format": CACHE_FORMAT, **asdict(resolution)}
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def load(text: str) -> Resolution:
    data = json.loads(text)
    if data.get("format") != CACHE_FORMAT:
        raise ValueError(f"cache format {data.get('format')!r}")
    return Resolution(
        target=Target(**data["target"]), dists=tuple(Dist(**d) for d in data["dists"])
    )


def _read_cache(path: Path, target: Target) -> Resolution | None:
    try:
        resolution = load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or unreadable: resolve again
    return resolution if resolution.target == target else None


def wheel_version(requirement: str, target: Target, *, lowest: bool) -> str | None:
    """The version of `requirement` (one PEP 508 line, its name a distribution's) that uv picks
    among those with a wheel for `target` — the lowest or the highest — or None when no version
    has one. Cached on disk like resolutions: the index's history does not change."""
    key = hashlib.sha256(
        json.dumps([CACHE_FORMAT, requirement, asdict(target), lowest]).encode()
    ).hexdigest()
    path = cache_dir() / "wheels" / f"{key}.json"
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(path.read_text(encoding="utf-8"))
        return cached["version"] if isinstance(cached.get("version"), str | None) else None
    if offline():
        raise ResolveError("DEVENV_OFFLINE is set", unreachable=True)
    name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
    with tempfile.TemporaryDirectory(prefix="devenv-wheels-") as tmp:
        source = Path(tmp) / "requirement.in"
        source.write_text(requirement + "\n", encoding="utf-8")
        options = ("--only-binary", name, "--no-deps", "--no-header", "--no-annotate")
        lowest_first = ("--resolution", "lowest") if lowest else ()
        try:
            text = _uv_compile((*options, *lowest_first, str(source)), target, tmp)
        except ResolveError as exc:
            if exc.unreachable:
                raise
            text = ""  # no version fits: that is the answer
    found = re.search(rf"^{re.escape(name)}==(\S+)", text, re.MULTILINE | re.IGNORECASE)
    version = found[1] if found and _VERSION.fullmatch(found[1]) else None
    with contextlib.suppress(OSError):
        atomic_write(path, json.dumps({"version": version}) + "\n")
    return version


def _run_uv(roots: tuple[Path, ...], target: Target) -> str:
    with tempfile.TemporaryDirectory(prefix="devenv-resolve-") as tmp:
        out = Path(tmp) / "pylock.toml"
        args = ("--format", "pylock.toml", "--output-file", str(out), *map(str, roots))
        _uv_compile(args, target, tmp)
        return out.read_text(encoding="utf-8")


def _uv_compile(args: tuple[str, ...], target: Target, cwd: str) -> str:
    """`uv pip compile ARGS` for `target`; its stdout, or ResolveError."""
    uv = find_uv()
    if not uv:
        raise ResolveError("uv is not installed (pip install uv)", unreachable=False)
    # uv's own TLS roots miss a corporate CA; the system store has it. One retry and a short
    # timeout: an unreachable index should cost seconds, not a minute.
    env = {
        "UV_NATIVE_TLS": "1",
        "UV_HTTP_RETRIES": "1",
        "UV_HTTP_TIMEOUT": "15",
        **os.environ,
    }
    argv = [
        uv,
        "pip",
        "compile",
        "--quiet",
        "--no-python-downloads",  # the target need not exist here: resolve by its tags
        # devenv's own interpreter for anything uv runs (an sdist's metadata hook), so it
        # never goes looking for one on PATH
        "--python",
        sys.executable,
        "--python-version",
        target.python,
        "--python-platform",
        target.platform(),
        *args,
    ]
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False, cwd=cwd
        )
    except subprocess.TimeoutExpired:
        raise ResolveError(f"uv took over {TIMEOUT}s", unreachable=True) from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.strip().splitlines() if line.strip()]
        unreachable = bool(_NETWORK.search(result.stderr))
        cause = next((ln for ln in lines if ln.startswith("cause: Because")), "")
        tail = cause or (lines[-1] if lines else f"uv exited {result.returncode}")
        raise ResolveError(tail.removeprefix("cause: "), unreachable=unreachable)
    return result.stdout
