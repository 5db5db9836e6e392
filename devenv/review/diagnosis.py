"""A compile that slipped through the review: name the package that failed and the apt
package that provides what its build could not find, for the release it built on.

Read from the build's own words (pip's, uv's, the compiler's), so it works on a Dockerfile
build's output and on a host install's alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from devenv.review import native

_HEADER = re.compile(r"fatal error: ([\w./+-]+): No such file or directory")
_PACKAGE = re.compile(
    r"Failed to build [`'\"]?([A-Za-z0-9][A-Za-z0-9._-]*?)(?:==[^`'\"\s]*)?[`'\"]?(?:\s|$)"
    r"|Failed building wheel for ([A-Za-z0-9][A-Za-z0-9._-]*)"
    r"|Building wheel for ([A-Za-z0-9][A-Za-z0-9._-]*) \("
)
# pip before 25.2 names no package when an sdist's metadata step fails ("Getting requirements
# to build wheel did not run successfully"): the one it was collecting is the one that failed.
_COLLECTING = re.compile(r"^\s*Collecting ([A-Za-z0-9][A-Za-z0-9._-]*)")


def failed_compile(lines: Iterable[str], codename: str) -> tuple[str, str, str] | None:
    """(package that failed, what it missed, the apt package with it), or None."""
    package, collecting, missing, apt = "", "", "", ""
    for line in lines:
        found = _PACKAGE.search(line)
        if found:
            package = next(g for g in found.groups() if g)
        collected = _COLLECTING.search(line)
        if collected and not missing:
            collecting = collected[1]
        if missing:
            continue
        header = _HEADER.search(line)
        if header:
            apt = _header_package(header[1])
            missing = header[1] if apt else ""
            continue
        for pattern, tool, provider in native.MISSING_TOOLS:
            if re.search(pattern, line):
                missing, apt = tool, provider
                break
    if not missing:
        return None
    return package or collecting or "a requirement", missing, native.apt_name(apt, codename)


def failed_package(lines: Iterable[str]) -> str | None:
    """The distribution a build's own words say failed to build, or None."""
    package, collecting = "", ""
    for line in lines:
        found = _PACKAGE.search(line)
        if found:
            package = next(g for g in found.groups() if g)
        collected = _COLLECTING.search(line)
        if collected:
            collecting = collected[1]
    return package or collecting or None


def _header_package(header: str) -> str:
    for name, provider in native.MISSING_HEADERS.items():
        if header == name or (name.endswith("/") and header.startswith(name)):
            return provider
    return ""


def message(found: tuple[str, str, str], release: str) -> str:
    package, missing, apt = found
    return (
        f"{package} failed to build from source: it needs {missing}, which {apt} provides "
        f"on {release}"
    )
