"""The host's apt configuration, read for a mirror of the distro being bootstrapped (and its
security archive): one-line ``sources.list`` files and deb822 ``*.sources`` files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: The host's apt configuration.
APT_DIR = Path("/etc/apt")


@dataclass(frozen=True)
class AptSource:
    """One binary (``deb``) archive URI from the host's apt configuration."""

    uri: str
    suites: tuple[str, ...]
    file: Path


def _one_line_sources(path: Path) -> list[AptSource]:
    found: list[AptSource] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        words = line.split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            # Options: "[arch=amd64 signed-by=...]" or "[ arch=amd64 ]", possibly spaced.
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            found.append(AptSource(uri=words[0], suites=(words[1],), file=path))
    return found


def _deb822_sources(path: Path) -> list[AptSource]:
    found: list[AptSource] = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key: str | None = None
        for raw in paragraph.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key is not None:
                fields[key] += " " + raw.strip()
                continue
            name, sep, value = raw.partition(":")
            if not sep:
                continue
            key = name.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").strip().lower() in {"no", "false", "0"}:
            continue
        suites = tuple(fields.get("suites", "").split())
        found.extend(
            AptSource(uri=u, suites=suites, file=path) for u in fields.get("uris", "").split()
        )
    return found


def host_apt_sources(apt_dir: Path = APT_DIR) -> tuple[AptSource, ...]:
    """All ``deb`` entries of ``apt_dir``'s ``sources.list`` and ``sources.list.d/*.list`` /
    ``*.sources`` (deb822), in the order apt reads them. Unreadable files are skipped."""
    files: list[Path] = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in {".list", ".sources"})
    found: list[AptSource] = []
    for path in files:
        try:
            if not path.is_file():
                continue
            if path.suffix == ".sources":
                found += _deb822_sources(path)
            else:
                found += _one_line_sources(path)
        except OSError:
            continue
    return tuple(found)


def is_mirror_for(distro: str, source: AptSource) -> bool:
    """Whether ``source`` is a main archive of ``distro``: an http(s) URI whose path ends with
    ``/<distro>`` (so not ``/debian-security`` or ``/ubuntu-ports``), not a security archive."""
    parts = urlsplit(source.uri)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return False
    if not parts.path.rstrip("/").endswith(f"/{distro}"):
        return False
    if parts.hostname.startswith("security."):
        return False
    return not (source.suites and all(s.endswith("-security") for s in source.suites))


def mirror_from_host(distro: str, apt_dir: Path = APT_DIR) -> str | None:
    """The first URI of the host's apt configuration that is a main archive of ``distro``,
    without a trailing slash; None if there is none (debootstrap then uses its default)."""
    for source in host_apt_sources(apt_dir):
        if is_mirror_for(distro, source):
            return source.uri.rstrip("/")
    return None
