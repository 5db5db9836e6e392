"""Whether devenv.lock still matches the plan: what a lock is made from (the plan's settings
and each requirements file's bytes), and the staleness check `devenv build`, `devenv
host-install` and `devenv lock --check` share. Pure reading: resolving a lock is
devenv.lock.resolve's."""

from __future__ import annotations

import dataclasses
import hashlib

from devenv.errors import StaleError
from devenv.plan.lockfile import LOCK_FILE, fingerprint, stale_reasons
from devenv.plan.model import Plan


def lock_inputs(plan: Plan) -> tuple[tuple[str, str], ...]:
    """What a lock is made from: the plan's settings and each requirements file's bytes."""
    settings = dataclasses.asdict(plan)
    for key in ("project_dir", "requirements", "lock", "devcontainer"):
        settings.pop(key)
    settings["environment"].pop("registry")  # where images are shared: nothing to resolve
    settings["python"].pop("installer_note")  # words about the installer, which is an input
    if settings["python"].pop("smoke_derived"):  # then it follows the lock: no input of it
        settings["python"].pop("smoke")
    inputs = [("devenv.toml", fingerprint(settings))]
    inputs += [
        (f, hashlib.sha256((plan.project_dir / f).read_bytes()).hexdigest())
        for f in plan.requirements.files
    ]
    return tuple(inputs)


def check_lock(plan: Plan) -> None:
    """Exit 1 (StaleError) when there is no lock or it no longer matches the plan."""
    if plan.lock is None:
        raise StaleError(f"{plan.project_dir / LOCK_FILE} does not exist", hint="run `devenv lock`")
    reasons = stale_reasons(lock_inputs(plan), plan.lock)
    if reasons:
        raise StaleError(
            f"{plan.project_dir / LOCK_FILE} is stale: {'; '.join(reasons)} since it was locked",
            hint="run `devenv lock` to update it",
        )


def lock_status(plan: Plan, *, frozen: bool) -> str:
    """One line on how installs follow the lock; with `frozen`, a stale or missing lock is an
    error naming what changed (build and host-install share this)."""
    if plan.lock is None:
        if frozen:
            raise StaleError(
                f"--frozen needs {plan.project_dir / LOCK_FILE}", hint="run `devenv lock` first"
            )
        return "no devenv.lock: installing the newest versions the requirements allow"
    reasons = stale_reasons(lock_inputs(plan), plan.lock)
    if reasons and frozen:
        check_lock(plan)
    if reasons:
        return (
            f"installing from devenv.lock, which is stale ({'; '.join(reasons)}): "
            "run `devenv lock` to update it"
        )
    return "installing exactly what devenv.lock pins"
