"""Apt on the host: ask dpkg what is installed, install only what it lacks.

The install command is the step's own argv, with its trailing package list narrowed to the
missing packages, so nothing already installed is upgraded or re-marked behind the user's back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from devenv.errors import HostError
from devenv.host.execute import Executor
from devenv.steps.model import Command, Kind, Role, Scope, Step

# dpkg-query expands \t and \n itself, so the argv stays one printable line.
DPKG_FORMAT = r"${Package}\t${Status}\t${Version}\n"


def package_name(spec: str) -> str:
    """`name` or `name=version` -> `name`."""
    return spec.partition("=")[0]


def apt_steps(steps: Iterable[Step], scopes: frozenset[Scope]) -> tuple[Step, ...]:
    return tuple(s for s in steps if s.kind is Kind.APT and s.scope in scopes)


def query_installed(executor: Executor, specs: Iterable[str]) -> dict[str, str]:
    """{package: installed version} for those of `specs` dpkg reports as installed."""
    names = tuple(dict.fromkeys(package_name(s) for s in specs))
    if not names:
        return {}
    probe = executor.probe(("dpkg-query", "-W", f"-f={DPKG_FORMAT}", *names))
    if probe.returncode == 127:
        raise HostError(
            "dpkg-query is not on PATH: host-install needs a Debian or Ubuntu host (apt/dpkg)",
            hint="use the container instead (devenv build), or run devenv doctor",
        )
    # Exit status 1 only means some names are unknown to dpkg: they are simply not installed.
    if probe.returncode not in (0, 1):
        raise HostError(
            f"dpkg-query failed with status {probe.returncode}: {probe.stderr.strip()}",
            hint="check that dpkg works (`dpkg --audit`), then retry",
        )
    return parse_dpkg_query(probe.stdout)


# Every installed package with what it provides: a virtual name (libmagic1 on Ubuntu 24.04, which
# apt installs as libmagic1t64) is there when a package that provides it is.
PROVIDES_FORMAT = r"${Package}\t${Status}\t${Version}\t${Provides}\n"


def query_providers(executor: Executor, names: Iterable[str]) -> dict[str, str]:
    """{virtual name: the installed package that provides it} for those of `names` that one
    does: what dpkg lacks by name after apt installed it."""
    wanted = set(names)
    probe = executor.probe(("dpkg-query", "-W", f"-f={PROVIDES_FORMAT}"))
    found: dict[str, str] = {}
    for line in probe.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or parts[1].split()[-1:] != ["installed"]:
            continue
        for provided in parts[3].split(","):
            name = provided.split("(")[0].strip()
            if name in wanted:
                found.setdefault(name, parts[0])
    return found


def parse_dpkg_query(text: str) -> dict[str, str]:
    installed: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        name, status, version = parts
        # "install ok installed", "hold ok installed"; not "deinstall ok config-files".
        if status.split()[-1:] == ["installed"]:
            installed[name] = version
    return installed


def missing(specs: Iterable[str], installed: Mapping[str, str]) -> tuple[str, ...]:
    """The specs dpkg lacks: not installed, or installed at another version than pinned."""
    out = []
    for spec in specs:
        name, pinned, version = spec.partition("=")
        have = installed.get(name)
        if have is None or (pinned and have != version):
            out.append(spec)
    return tuple(dict.fromkeys(out))


def narrowed(command: Command, step: Step, wanted: tuple[str, ...]) -> Command:
    """The step's install command installing only `wanted` (a subset of its packages)."""
    tail = len(step.packages)
    if command.role is not Role.APT_INSTALL or command.argv[-tail:] != step.packages:
        raise HostError(
            f"step {step.id!r}: its install command does not end with its packages",
            hint="this is a bug in devenv's step compiler; please report it",
        )
    return replace(command, argv=command.argv[:-tail] + wanted)
