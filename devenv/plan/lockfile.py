"""devenv.lock: what decides the environment, pinned — read by pip as well as by devenv.

The file is a hash-checking pip requirements file (so the image and the host install it with
`pip install --require-hashes -r devenv.lock`), headed by `# devenv:` lines that pin the base
image and the apt packages and record what the lock was made from. One file, plain text,
deterministic, diff-friendly: one pin per line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from devenv.errors import PlanError
from devenv.fs.safety import read_bounded

LOCK_FILE = "devenv.lock"
FORMAT = "1"
_LINE = re.compile(r"# devenv: (\w+) (.*)")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)
HEADER = (
    "# devenv.lock: written by `devenv lock`; do not edit. `devenv lock --upgrade` re-resolves.\n"
    "# devenv.lock is a hash-checking pip requirements file; devenv also reads `# devenv:` lines.\n"
)


@dataclass(frozen=True, kw_only=True)
class AptPin:
    scope: str  # "base" | "dev" | "db": which step list it belongs to
    package: str
    version: str


@dataclass(frozen=True, kw_only=True)
class Lock:
    inputs: tuple[tuple[str, str], ...]  # (what, sha256) the lock was resolved from
    base: tuple[tuple[str, str], ...]  # ref, id, source, ...
    python: str  # the Python version resolved for
    apt: tuple[AptPin, ...]
    requirements: str  # pip requirements with --hash lines

    def apt_version(self, package: str) -> str | None:
        return next((p.version for p in self.apt if p.package == package), None)

    def python_pins(self) -> dict[str, str]:
        return {name.lower(): version for name, version in _PIN.findall(self.requirements)}


def fingerprint(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def render_lock(lock: Lock) -> str:
    lines = [HEADER.rstrip("\n"), f"# devenv: format {FORMAT}"]
    lines += [f"# devenv: input {name} sha256={digest}" for name, digest in lock.inputs]
    lines.append("# devenv: base " + " ".join(f"{k}={v}" for k, v in lock.base))
    lines.append(f"# devenv: python {lock.python}")
    lines += [f"# devenv: apt {p.scope} {p.package}={p.version}" for p in lock.apt]
    return "\n".join(lines) + "\n" + lock.requirements.rstrip("\n") + "\n"


def parse_lock(text: str, source: Path) -> Lock:
    """The lock's pins; PlanError (one line, exit 2) naming the first `# devenv:` line that is
    not one devenv writes."""
    inputs, base, apt = [], [], []
    python = ""
    body = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("# devenv"):
            body.append(line)
            continue
        if not line.startswith("# devenv:"):
            continue  # the header's prose lines (`# devenv.lock: ...`)
        try:
            match = _LINE.fullmatch(line)
            if not match:
                raise ValueError("expected `# devenv: KIND VALUE`")
            kind, rest = match.groups()
            if kind == "format" and rest != FORMAT:
                raise ValueError(f"format {rest} is not {FORMAT}")
            if kind == "input":
                name, sep, digest = rest.rpartition(" sha256=")
                if not sep or not name or not re.fullmatch(r"[0-9a-f]+", digest):
                    raise ValueError("expected `input NAME sha256=HEX`")
                inputs.append((name, digest))
            elif kind == "base":
                pairs = [kv.partition("=") for kv in rest.split()]
                if any(not k or not sep for k, sep, _ in pairs):
                    raise ValueError("expected `base KEY=VALUE ...`")
                base = [(k, v) for k, _, v in pairs]
            elif kind == "python":
                python = rest
            elif kind == "apt":
                scope, _, spec = rest.partition(" ")
                package, sep, version = spec.partition("=")
                if not scope or not package or not sep or not version:
                    raise ValueError("expected `apt SCOPE PACKAGE=VERSION`")
                apt.append(AptPin(scope=scope, package=package, version=version))
        except ValueError as exc:
            raise PlanError(
                f"{source}:{number}: unreadable lock line ({exc})",
                hint="run `devenv lock --upgrade` to write it again",
            ) from None
    return Lock(
        inputs=tuple(inputs),
        base=tuple(base),
        python=python,
        apt=tuple(apt),
        requirements="\n".join(body).strip("\n") + "\n",
    )


def read_lock(project_dir: Path) -> Lock | None:
    path = project_dir / LOCK_FILE
    if not path.is_file():
        return None

    try:
        text = read_bounded(path, limit=16 * 1024 * 1024, what="lock").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"{path}: not UTF-8 text (byte {exc.start})", hint="run `devenv lock` to rewrite it"
        ) from None
    return parse_lock(text, path)


def stale_reasons(expected: tuple[tuple[str, str], ...], lock: Lock) -> list[str]:
    """What changed between the inputs a lock was made from and the current ones."""
    old, new = dict(lock.inputs), dict(expected)
    reasons = [f"{name} changed" for name in new if name in old and old[name] != new[name]]
    reasons += [f"{name} is new" for name in new if name not in old]
    reasons += [f"{name} is no longer used" for name in old if name not in new]
    return reasons
