"""docker/Dockerfile: three stages from the container step list.

`base` holds what both images share (CA trust, the PGDG repository); `db` and `dev` follow.
Steps are rendered in order, one RUN each, so the layer cache follows the step list: system
packages first, then only the requirements files and the Python install. The workspace is
never copied: compose mounts it. The classic builder must work (no BuildKit syntax).
"""

from __future__ import annotations

import json

from devenv.plan.model import Plan
from devenv.steps.compile import (
    DB_DATA,
    DB_ENTRYPOINT_IMAGE,
    DB_LOCALE,
    Kind,
    Mode,
    Scope,
    Step,
    compile_steps,
)

# hadolint rules we waive, each with the reason written next to it in the output.
_APT_UNPINNED = (
    "DL3008",
    "apt versions are pinned by devenv.lock when the project has one (`devenv lock`)",
)
_PIP_UNPINNED = ("DL3013", "the installer itself is upgraded on purpose; requirements are pinned")

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def render_dockerfile(plan: Plan) -> str:
    steps = compile_steps(plan, Mode.CONTAINER)
    out = [f"FROM {plan.environment.base} AS base", ""]
    out += _stage(steps, Scope.BASE, user=None)
    # Tools in both images use the system trust store, which now holds the host's extra CAs.
    out += [
        f"ENV SSL_CERT_FILE={CA_BUNDLE} REQUESTS_CA_BUNDLE={CA_BUNDLE} PIP_CERT={CA_BUNDLE}",
        "",
    ]

    out += ["FROM base AS db", ""]
    out += _stage(steps, Scope.DB, user=None)
    bindir = f"/usr/lib/postgresql/{plan.postgres.version}/bin"
    # As in the official image: root by default (the entrypoint drops to postgres, and
    # images built FROM this one can still RUN apt-get), PGDATA a volume.
    out += [
        f"ENV PATH={bindir}:$PATH PGDATA={DB_DATA} LANG={DB_LOCALE}"
        f" PG_MAJOR={plan.postgres.version}",
        f"VOLUME {DB_DATA}",
        "EXPOSE 5432",
        "STOPSIGNAL SIGINT",
        f'ENTRYPOINT ["{DB_ENTRYPOINT_IMAGE.rsplit("/", 1)[-1]}"]',
        'CMD ["postgres"]',
        "",
    ]

    venv = plan.python.container_venv
    out += ["FROM base AS dev", ""]
    out += [f"ENV PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV={venv}", ""]
    out += _stage(steps, Scope.DEV, user=plan.environment.user)
    out += [
        f"ENV PATH={venv}/bin:$PATH",
        f"WORKDIR {plan.devcontainer.workspace}",
        'CMD ["sleep", "infinity"]',
    ]
    return "\n".join(out) + "\n"


def _stage(steps: tuple[Step, ...], scope: Scope, user: str | None) -> list[str]:
    out: list[str] = []
    current = "root"
    for step in steps:
        if step.scope is not scope or not step.at_build:
            continue
        wanted = "root" if step.root or user is None else user
        if wanted != current:
            out.append(f"USER {wanted}")
            current = wanted
        out.append(f"# {step.phase.value}: {step.title}")
        for note in step.notes:
            out.append(f"# {note}")
        for source, dest in step.copies:
            chown = f"--chown={user}:{user} " if not step.root and user else ""
            out.append(f"COPY {chown}{_copy_args(source, dest)}")
        waived = _waivers(step)
        for rule, why in waived:
            out.append(f"# {rule}: {why}")
        if waived:
            out.append(f"# hadolint ignore={','.join(rule for rule, _ in waived)}")
        commands = [c.display() for c in step.commands_for(Mode.CONTAINER)]
        out.append("RUN " + " \\\n && ".join(commands))
        out.append("")
    return out


def _copy_args(source: str, dest: str) -> str:
    """`src dest`, or the JSON form when a path has a space (the plain form would read it as
    two paths). The plan's grammar already keeps out flags, variables and globs."""
    if " " in source or " " in dest:
        return json.dumps([source, dest])
    return f"{source} {dest}"


def _waivers(step: Step) -> list[tuple[str, str]]:
    if step.kind is Kind.APT and any("=" not in p for p in step.packages):
        return [_APT_UNPINNED]
    if step.kind is Kind.PIP_BOOTSTRAP:
        return [_PIP_UNPINNED]
    return []
