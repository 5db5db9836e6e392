"""`devenv lock`: resolve the base, the apt pins and the Python set, and write devenv.lock.

apt versions are what the base image's archive offers (asked inside a throw-away container
of the base); Python packages are resolved by uv for the release's Python, with the sha256
of every distribution, so the image and a host of the same release install the same bytes.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import subprocess
import tempfile
from pathlib import Path

from devenv.container.engine import Engine, run_in_image
from devenv.errors import DevenvError
from devenv.fs.atomic import atomic_write
from devenv.plan.lock_status import lock_inputs
from devenv.plan.lockfile import LOCK_FILE, AptPin, Lock, render_lock
from devenv.plan.model import Plan
from devenv.project.uv import find_uv
from devenv.render.labels import LABEL_BOOTSTRAPPED, LABEL_SUITE, LABEL_VARIANT
from devenv.steps.installers import installer
from devenv.steps.model import Kind, Mode
from devenv.steps.recipe import compile_plan

# uv prints nothing with --quiet: without a bound an index that never answers would hang
# `devenv lock` silently.
UV_TIMEOUT = 600.0
# apt-get update, then the candidate of each package given as an argument (never spliced in).
_POLICY = 'apt-get update -qq >/dev/null && apt-cache policy "$@"'
_CANDIDATE = re.compile(r"^(\S+):\n(?:\s+Installed: .*\n)?\s+Candidate: (\S+)", re.M)


class LockError(DevenvError):
    """The lock could not be resolved."""


def apt_packages(plan: Plan) -> list[tuple[str, str]]:
    """(scope, package) for every apt package the plan's steps name, in step order. The
    lock's apt pins are left out (so names come unpinned), its Python pins kept: what builds
    from source, and so which -dev packages the steps name, follows the Python set."""
    unpinned = dataclasses.replace(plan.lock, apt=()) if plan.lock else None
    unlocked = dataclasses.replace(plan, lock=unpinned)
    return [
        (step.scope.value, package.split("=", 1)[0])
        for step in compile_plan(unlocked).steps(Mode.CONTAINER)
        if step.kind is Kind.APT
        for package in step.packages
        if "=" not in package  # a version the plan pins itself stays the plan's
    ]


def resolve_apt(engine: Engine, plan: Plan, old: Lock | None) -> tuple[AptPin, ...]:
    wanted = apt_packages(plan)
    names = sorted({name for _, name in wanted})
    code, out, err = run_in_image(
        engine, plan.environment.base, ["sh", "-c", _POLICY, "sh", *names], network=True
    )
    if code != 0:
        raise LockError(
            f"resolving apt packages in {plan.environment.base} failed: "
            f"{(err or out).strip().splitlines()[-1:]}"
        )
    candidates = dict(_CANDIDATE.findall(out))
    pins = []
    for scope, name in wanted:
        version = (old.apt_version(name) if old else None) or candidates.get(name)
        if not version or version == "(none)":
            raise LockError(
                f"apt package {name} has no candidate in {plan.environment.base}'s archive",
                hint="check the package name, or the plan's [postgres] source",
            )
        pins.append(AptPin(scope=scope, package=name, version=version))
    return tuple(dict.fromkeys(pins))


def resolve_python(plan: Plan, old: Lock | None, upgrade: bool) -> str:
    uv = find_uv()  # the one beside devenv: its venv's bin need not be on PATH
    if not uv:
        raise LockError("uv is needed to resolve the Python packages", hint="pip install uv")
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
    with tempfile.TemporaryDirectory(prefix="devenv-lock-") as tmp:
        boot = Path(tmp) / "bootstrap.txt"
        # The installers themselves are locked too: the bootstrap step installs these pins,
        # and the venv's pip (the one `pip check` runs) comes from the lock with uv as well.
        tools = dict.fromkeys(("pip", *installer(plan.python.installer).tools))
        boot.write_text("".join(f"{t}\n" for t in tools))
        output = Path(tmp) / "out.txt"
        if old and not upgrade:
            output.write_text(old.requirements)  # uv keeps these versions where it can
        argv = [
            uv,
            "pip",
            "compile",
            "--quiet",
            "--generate-hashes",
            "--no-header",
            "--no-annotate",
            "--python-version",
            plan.environment.release.python,
            "--python-platform",
            f"{arch.get(platform.machine(), platform.machine())}-unknown-linux-gnu",
            "--output-file",
            str(output),
            *(["--upgrade"] if upgrade else []),
            *(str(plan.project_dir / f) for f in plan.python.requirements),
            str(boot),
        ]
        # uv's own TLS roots miss a corporate CA; the system store has it.
        env = {**os.environ, "UV_NATIVE_TLS": "1"}
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, env=env, check=False, timeout=UV_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            raise LockError(
                f"resolving the Python packages with uv did not finish within {UV_TIMEOUT:g}s",
                hint="check that the package index answers (a proxy, the network), then retry",
            ) from None
        if result.returncode != 0:
            tail = " ".join(result.stderr.strip().splitlines()[-3:])
            raise LockError(
                f"resolving the Python packages failed: {tail}",
                hint="fix the requirements, then run `devenv lock` again",
            )
        return output.read_text()


def base_identity(engine: Engine, plan: Plan) -> tuple[tuple[str, str], ...]:
    info = engine.inspect_image(plan.environment.base)
    if info is None:
        raise LockError(
            f"the base image {plan.environment.base} is not on the engine",
            hint="run `devenv base` first",
        )
    labels = (info.get("Config") or {}).get("Labels") or {}
    identity = [("ref", plan.environment.base), ("id", str(info["Id"]))]
    digests = [d for d in info.get("RepoDigests") or [] if "@sha256:" in d]
    if digests:
        identity.append(("digest", digests[0].split("@", 1)[1]))
    if labels.get(LABEL_BOOTSTRAPPED) == "true":
        # The mirror stays out: it is this machine's network, not the project's.
        identity += [
            ("source", "debootstrap"),
            ("suite", labels.get(LABEL_SUITE, "?")),
            ("variant", labels.get(LABEL_VARIANT, "?")),
        ]
    return tuple(identity)


def make_lock(plan: Plan, engine: Engine, *, upgrade: bool) -> Lock:
    old = None if upgrade else plan.lock
    # The Python set first: its source builds decide which -dev packages the apt pins cover.
    new = Lock(
        inputs=lock_inputs(plan),
        base=base_identity(engine, plan),
        python=plan.environment.release.python,
        apt=(),
        requirements=resolve_python(plan, old, upgrade),
    )
    return dataclasses.replace(
        new, apt=resolve_apt(engine, dataclasses.replace(plan, lock=new), old)
    )


def write_lock(plan: Plan, lock: Lock) -> Path:
    path = plan.project_dir / LOCK_FILE
    atomic_write(path, render_lock(lock))
    return path
