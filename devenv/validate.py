"""Grammars for every value that reaches a generated file or a command.

Each validator returns the value unchanged or raises ValueError with a reason; the plan loader
turns that into a PlanError naming the file and key.
"""

from __future__ import annotations

import re

# Debian policy 5.6.1: lowercase letters, digits, + - . ; at least two chars; starts alnum.
_DEB_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
# Debian policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
_DEB_VERSION = re.compile(r"(?:[0-9]+:)?[0-9][A-Za-z0-9.+~:-]*")
# Docker reference grammar (distribution/reference), without digests of other algorithms.
_IMAGE_REF = re.compile(
    r"(?:(?P<registry>[a-zA-Z0-9.-]+(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?"
)
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def no_control(value: str) -> str:
    match = _CONTROL.search(value)
    if match:
        raise ValueError(f"contains the control character {match.group()!r}")
    return value


def deb_package(value: str) -> str:
    no_control(value)
    if not _DEB_PACKAGE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Debian package name "
            "(lowercase letters, digits, '+', '-', '.'; starting with a letter or digit)"
        )
    return value


def deb_version(value: str) -> str:
    no_control(value)
    if not _DEB_VERSION.fullmatch(value):
        raise ValueError(f"{value!r} is not a Debian version ([epoch:]upstream[-revision])")
    return value


def deb_package_spec(value: str) -> str:
    """`name` or `name=version`, as apt-get install accepts them."""
    name, sep, version = value.partition("=")
    deb_package(name)
    if sep:
        deb_version(version)
    return value


def image_ref(value: str) -> str:
    no_control(value)
    if not _IMAGE_REF.fullmatch(value):
        raise ValueError(f"{value!r} is not an image reference (like 'ubuntu:24.04')")
    return value


def split_image_ref(value: str) -> tuple[str, str]:
    """(last path component, tag) of a valid reference: 'ubuntu:24.04' -> ('ubuntu', '24.04')."""
    match = _IMAGE_REF.fullmatch(image_ref(value))
    assert match is not None
    return match.group("path").rsplit("/", 1)[-1], match.group("tag") or "latest"


def module_name(value: str) -> str:
    no_control(value)
    if not _MODULE.fullmatch(value):
        raise ValueError(f"{value!r} is not a dotted module name (like 'pgvector.psycopg')")
    return value


def env_name(value: str) -> str:
    no_control(value)
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid environment name "
            "(lowercase letters, digits, '_' and '-', starting with a letter or digit)"
        )
    return value


def port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a port number (1-65535)")
    return value


def slug(value: str) -> str:
    """Make a folder name usable as an environment name: 'My App' -> 'my-app'."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")
    return cleaned[:63] or "devenv"
