"""Grammars for every value that reaches a generated file or a command.

Each validator returns the value unchanged or raises ValueError with a reason; the plan loader
turns that into a PlanError naming the file and key.
"""

from __future__ import annotations

import keyword
import re
from pathlib import PurePosixPath

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
# A trailing '-' or '+' is apt's remove/install action on the name before it (apt tries the
# whole word first, so '++' as in g++ still names the package).
_APT_ACTION = re.compile(r"(?:-|(?<!\+)\+)$")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# One path component of an image name (distribution/reference) without '.', so that
# `devenv/<name>-dev`, the compose project and its volume names are all valid.
_NAME = re.compile(r"[a-z0-9]+(?:(?:_|__|-+)[a-z0-9]+)*")
_NAME_MAX = 63
# useradd: a lowercase identifier, at most 32 characters.
_USER = re.compile(r"[a-z_][a-z0-9_]{0,31}")
_SQL_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Accounts the Debian and Ubuntu bases (or their packages) already have.
SYSTEM_USERS = frozenset(
    [
        "root",
        "daemon",
        "bin",
        "sys",
        "sync",
        "games",
        "man",
        "lp",
        "mail",
        "news",
        "uucp",
        "proxy",
        "www-data",
        "backup",
        "list",
        "irc",
        "gnats",
        "nobody",
        "systemd-network",
        "systemd-resolve",
        "systemd-timesync",
        "messagebus",
        "syslog",
        "postgres",
        "ubuntu",
        "debian",
        "admin",
        "sudo",
        "staff",
        "users",
    ]
)
# PostgreSQL: role names starting with pg_ are reserved, and these are keywords or built-ins.
_RESERVED_ROLES = frozenset({"public", "none", "current_user", "current_role", "session_user"})
_RESERVED_DATABASES = frozenset({"template0", "template1"})
# Folders in the image that are not a venv's or a workspace's to take.
SYSTEM_DIRS = frozenset(
    [
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",  # noqa: S108 (a folder to refuse, not to use)
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/share",
        "/var",
        "/var/lib",
        "/var/log",
        "/var/lib/postgresql",
    ]
)
_UNDER_SYSTEM = ("/proc", "/sys", "/dev", "/etc", "/boot", "/run", "/var/lib/postgresql")
# Never a requirements file: devenv's state, git's, and files that hold secrets.
_SECRET_DIRS = frozenset({".devenv", ".git", ".ssh", ".gnupg", ".aws", ".docker"})
_SECRET_SUFFIXES = (".key", ".pem", ".p12", ".pfx", ".jks", ".keystore")
_SECRET_NAMES = frozenset({".netrc", ".pypirc", ".npmrc", ".git-credentials", "db.env"})
# C0 and C1 controls, and what reorders or breaks lines when a file is shown: bidi
# embeddings, overrides, isolates and marks, the line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# A file devenv copies into an image and names in .dockerignore: plain names, no Dockerfile
# variable ($), glob (* ? [), escape (\\) or comment (#) syntax, no part read as a flag.
_FILE_PART = re.compile(r"[A-Za-z0-9_.+@=,][A-Za-z0-9_.+@=,-]*(?: +[A-Za-z0-9_.+@=,-]+)*")


def no_control(value: str) -> str:
    match = _CONTROL.search(value)
    if match:
        raise ValueError(f"contains the control character {match.group()!r}")
    return value


def copyable_path(value: str) -> str | None:
    """Why a project-relative path can't be copied into an image as is, or None."""
    for part in PurePosixPath(value).parts:
        if not _FILE_PART.fullmatch(part):
            return (
                "is not a plain path (letters, digits and _ . + @ = , -, inner spaces; "
                "no part starting with '-')"
            )
    return None


def deb_package(value: str) -> str:
    no_control(value)
    if not _DEB_PACKAGE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Debian package name "
            "(lowercase letters, digits, '+', '-', '.'; starting with a letter or digit)"
        )
    if _APT_ACTION.search(value):
        raise ValueError(
            f"{value!r} ends with {value[-1]!r}, which apt reads as "
            f"{'remove' if value.endswith('-') else 'install'} the package before it; "
            "write the package name alone"
        )
    return value


def deb_version(value: str) -> str:
    no_control(value)
    if not _DEB_VERSION.fullmatch(value) or value.endswith("-"):
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
    """NAME[:TAG], the one grammar the plan and the engine wrapper share. No digest: a base
    is bootstrapped here (a new image, a new digest) and pinned by devenv.lock instead, so
    a digest would be accepted by one and refused by the other."""
    no_control(value)
    match = _IMAGE_REF.fullmatch(value)
    if not match or len(value) > 255:
        raise ValueError(f"{value!r} is not an image reference (like 'ubuntu:24.04')")
    if match.group("digest"):
        raise ValueError(
            f"{value!r} pins a digest; name the base as NAME:TAG (like 'ubuntu:24.04') and "
            "pin it with `devenv lock`"
        )
    return value


_REGISTRY_HOST = re.compile(
    r"(?:localhost|\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?"
)
_REGISTRY_PATH = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def registry(value: str) -> str:
    """HOST[:PORT]/NAMESPACE: where the team's images live. The host must look like one to
    the engine (a '.', a port, or localhost), or it would read it as a Docker Hub account."""
    no_control(value)
    shape = "HOST[:PORT]/NAMESPACE (like 'registry.example.com/team' or '127.0.0.1:5000/team')"
    if "://" in value:
        raise ValueError(
            f"{value!r} has a scheme; write {shape}: the engine speaks HTTPS to a registry "
            "(plain HTTP only to one on a loopback address)"
        )
    host, _, path = value.partition("/")
    if not path or not _REGISTRY_HOST.fullmatch(host):
        raise ValueError(f"{value!r} is not {shape}")
    if not ("." in host or ":" in host or host == "localhost"):
        raise ValueError(
            f"{value!r}: {host!r} would be read as a Docker Hub account, not a registry host; "
            f"write {shape}"
        )
    if ":" in host and not host.endswith("]"):
        port = host.rpartition(":")[2]
        if not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r}: port {port} is not between 1 and 65535")
    if not all(_REGISTRY_PATH.fullmatch(part) for part in path.split("/")):
        raise ValueError(
            f"{value!r}: the namespace {path!r} must be lowercase names joined by '/' "
            "(no tag, digest or trailing '/')"
        )
    if len(value) > 200:
        raise ValueError(f"{value!r} is longer than 200 characters")
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
    for part in value.split("."):
        if keyword.iskeyword(part):
            raise ValueError(f"{value!r} can't be imported: {part!r} is a Python keyword")
    return value


def env_name(value: str) -> str:
    no_control(value)
    if not _NAME.fullmatch(value) or len(value) > _NAME_MAX:
        raise ValueError(
            f"{value!r} is not a valid environment name (up to {_NAME_MAX} lowercase letters "
            "and digits, joined by '-', '_' or '__'; it names images, the compose project "
            "and volumes)"
        )
    return value


def user_name(value: str) -> str:
    no_control(value)
    if not _USER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a user name useradd accepts here "
            "(lowercase letters, digits and '_', at most 32, not starting with a digit)"
        )
    if value in SYSTEM_USERS:
        raise ValueError(f"{value!r} is a system account of the base; pick another (like 'dev')")
    return value


def _sql_identifier(value: str) -> str:
    no_control(value)
    if not _SQL_IDENTIFIER.fullmatch(value):
        raise ValueError(f"{value!r} must be a lowercase SQL identifier")
    return value


def pg_role(value: str) -> str:
    _sql_identifier(value)
    if value.startswith("pg_") or value in _RESERVED_ROLES:
        raise ValueError(f"{value!r} is a name PostgreSQL reserves for roles")
    return value


def pg_database(value: str) -> str:
    _sql_identifier(value)
    if value in _RESERVED_DATABASES:
        raise ValueError(f"{value!r} is one of PostgreSQL's template databases")
    return value


def secret_or_protected(value: str) -> str | None:
    """Why a project-relative path may not be a requirements file (it would enter an image),
    or None."""
    path = PurePosixPath(value)
    for part in path.parts[:-1]:
        if part in _SECRET_DIRS:
            return f"is inside {part}/, which holds local state or secrets"
    name = path.name
    if (
        name.startswith(".env")
        or name in _SECRET_NAMES
        or name.lower().endswith(_SECRET_SUFFIXES)
        or name.startswith("id_")
    ):
        return "looks like a file holding secrets; it can't be a requirements file"
    return None


def image_paths(*, venv: str, workspace: str, user: str) -> tuple[str, str] | None:
    """(key, reason) when the image's venv or workspace would take a system folder, the
    user's home, or each other's place; None when both are fine."""
    home = f"/home/{user}"

    def inside(path: str, folder: str) -> bool:
        return path == folder or path.startswith(folder.rstrip("/") + "/")

    for key, path in (("container_venv", venv), ("workspace", workspace)):
        if path in SYSTEM_DIRS or any(inside(path, d) for d in _UNDER_SYSTEM):
            return key, f"{path!r} is a system folder of the image; use one of its own"
        if path == home:
            return key, f"{path!r} is the home of the image's user; use a folder of its own"
    if inside(venv, workspace) or inside(workspace, venv):
        return "container_venv", (
            f"{venv!r} and the workspace {workspace!r} overlap; the mounted project would "
            "hide the venv (use a folder outside the workspace, like /opt/venv)"
        )
    if inside(home, workspace):
        return "workspace", (
            f"{workspace!r} holds the home of the image's user, where the venv lives; "
            "mounting the project there would hide it"
        )
    if inside(workspace, home):
        return "workspace", (
            f"{workspace!r} is inside the home of the image's user, which devenv re-owns "
            "(chown -R) when it maps that user to yours: the mounted project would be re-owned "
            "too (use a folder of its own, like /workspace)"
        )
    return None


def port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a port number (1-65535)")
    return value


def slug(value: str) -> str:
    """Make a folder name usable as an environment name: 'My App' -> 'my-app'."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", value.lower())
    cleaned = re.sub(r"[-_]*-[-_]*", "-", cleaned)  # '_-', '-_' are no separators
    cleaned = re.sub(r"_{3,}", "__", cleaned).strip("-_")
    return cleaned[:_NAME_MAX].rstrip("-_") or "devenv"
