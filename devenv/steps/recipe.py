"""The plan compiled once: everything that will happen, for both modes, as one value.

A command compiles its plan once (`compile_plan`) and hands the recipe to whoever needs it:
the renderers (the Dockerfile is its container stages), the docker runner (labels, the
fingerprint), the host runner (its steps, the venv's places resolved per generation), doctor,
parity, verify and lock. `devenv plan` prints it.

- container: the shared step list for images, and the image settings (ENV, USER, ENTRYPOINT,
  ...) of each stage, so the Dockerfile renderer adds nothing of its own;
- host: the shared step list for the host plus what only host-install does (the local
  cluster, the init scripts, the setup tasks), with symbolic places (`Place`) for what only
  the host knows when it runs;
- each mode's requirements review (`Recipe.review`), done before that mode compiles: the
  compiler (steps.compile) is pure, everything that asks uv or reads a file happens here;
- one fingerprint per image over its stages' steps, settings and the bytes of every file they
  copy: the image label `verify` and `parity` compare, and what a content tag builds on.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from devenv.plan.model import Plan, Target
from devenv.review import source_builds
from devenv.review.source_builds import Review
from devenv.steps.compile import compile_steps, host_only_steps
from devenv.steps.model import (
    DB_DATA,
    DB_ENTRYPOINT_IMAGE,
    DB_LOCALE,
    Kind,
    Mode,
    Place,
    Places,
    Scope,
    Step,
    python_path,
    venv_path,
)

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
FINGERPRINT_LENGTH = 16  # hex digits: the image label's length


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One image setting: a Dockerfile instruction other than RUN and COPY."""

    instruction: str  # ENV, VOLUME, EXPOSE, STOPSIGNAL, ENTRYPOINT, CMD, WORKDIR
    value: str

    def line(self) -> str:
        return f"{self.instruction} {self.value}"


def _env(*pairs: tuple[str, str]) -> Setting:
    return Setting(instruction="ENV", value=" ".join(f"{k}={v}" for k, v in pairs))


def _exec_form(*argv: str) -> str:
    return json.dumps(list(argv))


@dataclass(frozen=True, kw_only=True)
class Stage:
    """A Dockerfile stage: its parent, its settings before and after its steps (those of its
    scope that run at build time), and the user its non-root steps run as."""

    name: str
    parent: str  # the plan's base image, or an earlier stage
    scope: Scope
    user: str | None  # None: every step runs as root
    before: tuple[Setting, ...] = ()
    after: tuple[Setting, ...] = ()


def _stages(plan: Plan) -> tuple[Stage, ...]:
    return (_base_stage(plan), _db_stage(plan), _dev_stage(plan))


def _base_stage(plan: Plan) -> Stage:
    return Stage(
        name="base",
        parent=plan.environment.base,
        scope=Scope.BASE,
        user=None,
        # Tools in both images use the system trust store, which now holds the host's extra CAs.
        after=(
            _env(
                ("SSL_CERT_FILE", CA_BUNDLE),
                ("REQUESTS_CA_BUNDLE", CA_BUNDLE),
                ("PIP_CERT", CA_BUNDLE),
            ),
        ),
    )


def _db_stage(plan: Plan) -> Stage:
    major = plan.postgres.version
    return Stage(
        name="db",
        parent="base",
        scope=Scope.DB,
        user=None,
        # As in the official image: root by default (the entrypoint drops to postgres, and
        # images built FROM this one can still RUN apt-get), PGDATA a volume.
        after=(
            _env(
                ("PATH", f"/usr/lib/postgresql/{major}/bin:$PATH"),
                ("PGDATA", DB_DATA),
                ("LANG", DB_LOCALE),
                ("PG_MAJOR", str(major)),
            ),
            Setting(instruction="VOLUME", value=DB_DATA),
            Setting(instruction="EXPOSE", value="5432"),
            Setting(instruction="STOPSIGNAL", value="SIGINT"),
            Setting(
                instruction="ENTRYPOINT", value=_exec_form(DB_ENTRYPOINT_IMAGE.rsplit("/", 1)[-1])
            ),
            Setting(instruction="CMD", value=_exec_form("postgres")),
        ),
    )


def _dev_stage(plan: Plan) -> Stage:
    venv = plan.python.container_venv
    return Stage(
        name="dev",
        parent="base",
        scope=Scope.DEV,
        user=plan.environment.user,
        # Before the steps, so a requirements edit re-runs no layer after the install. (The
        # venv's bin first on PATH changes nothing for the build: it is empty until the venv
        # step makes it, and the later steps name the venv's interpreter by path.)
        before=(
            _env(("PIP_DISABLE_PIP_VERSION_CHECK", "1"), ("VIRTUAL_ENV", venv)),
            _env(("PATH", f"{venv}/bin:$PATH")),
            Setting(instruction="WORKDIR", value=plan.devcontainer.workspace),
            Setting(instruction="CMD", value=_exec_form("sleep", "infinity")),
        ),
    )


# The stages each image is built from, in order.
TARGET_STAGES = {Target.DB: ("base", "db"), Target.DEV: ("base", "dev")}


@dataclass(frozen=True)
class Recipe:
    """Each mode is compiled the first time it is asked for, once, after its requirements
    review: a command that only renders or builds never reviews the requirements for the
    host's Python."""

    plan: Plan
    _reviews: dict[Mode, Review] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def review(self, mode: Mode) -> Review:
        """The requirements review for `mode`'s Python (`requirements_review`), done the first
        time it is asked for: a command that waits on the index anyway (build, before it
        connects to the engine) asks for it early."""
        if mode not in self._reviews:
            self._reviews[mode] = requirements_review(self.plan, mode)
        return self._reviews[mode]

    @functools.cached_property
    def container(self) -> tuple[Step, ...]:
        """In compile order (base, dev and db steps interleaved)."""
        return compile_steps(self.plan, Mode.CONTAINER, self.review(Mode.CONTAINER))

    @functools.cached_property
    def stages(self) -> tuple[Stage, ...]:
        return _stages(self.plan)

    @functools.cached_property
    def host(self) -> tuple[Step, ...]:
        """With every place unresolved (what the venv stamp reads: the same whichever
        generation folder the venv is built in); `steps` resolves them. The host-only steps
        sit after the database's packages (the cluster, its init scripts) and at the end (the
        setup tasks)."""
        shared = compile_steps(self.plan, Mode.HOST, self.review(Mode.HOST), venv=Place.VENV.value)
        host_only = host_only_steps(self.plan)
        db_apt = [i for i, s in enumerate(shared) if s.kind is Kind.APT and s.scope is Scope.DB]
        at = db_apt[-1] + 1 if db_apt else len(shared)
        database = tuple(s for s in host_only if s.kind is not Kind.TASKS)
        tasks = tuple(s for s in host_only if s.kind is Kind.TASKS)
        return (*shared[:at], *database, *shared[at:], *tasks)

    def steps(self, mode: Mode, places: Places | None = None) -> tuple[Step, ...]:
        """`mode`'s steps, ready to run: the venv is the plan's unless `places` says where
        (a host venv generation); other places stay symbolic unless given."""
        if mode is Mode.CONTAINER:
            return self.container
        given = {Place.VENV: self.venv(Mode.HOST), **(places or {})}
        return tuple(s.resolved(given) for s in self.host)

    def venv(self, mode: Mode) -> str:
        return venv_path(self.plan, mode)

    def python(self, mode: Mode) -> str:
        return python_path(self.venv(mode))

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def stage_steps(self, stage: Stage) -> tuple[Step, ...]:
        return tuple(s for s in self.container if s.scope is stage.scope and s.at_build)

    def fingerprint(self, target: Target) -> str:
        """What decides the `target` image: its stages (parent, user, settings, every step's
        commands and copies) and the bytes of the files those steps copy. Setup tasks, env
        files, host-only steps and checks that need a database reach no image, so they are
        not part of it."""
        stages = [self.stage(name) for name in TARGET_STAGES[target]]
        data = {
            "stages": [
                {
                    "name": st.name,
                    "parent": st.parent,
                    "user": st.user,
                    "before": [s.line() for s in st.before],
                    "after": [s.line() for s in st.after],
                    "steps": [_step_data(s) for s in self.stage_steps(st)],
                }
                for st in stages
            ],
            "files": {
                source: _file_digest(self.plan.project_dir, source)
                for st in stages
                for step in self.stage_steps(st)
                for source, _ in step.copies
            },
        }
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:FINGERPRINT_LENGTH]


def _step_data(step: Step) -> dict[str, object]:
    return {
        "id": step.id,
        "root": step.root,
        "copies": [list(c) for c in step.copies],
        "commands": [c.display() for c in step.commands_for(Mode.CONTAINER)],
    }


def _file_digest(project: Path, source: str) -> object:
    """A copied file's sha256; a copied folder's certificates (the only files of it the build
    context holds: see the generated .dockerignore), each by name. Missing: None."""
    path = project / source
    if source.endswith("/"):
        if not path.is_dir():
            return None
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.glob("*.crt"))
            if p.is_file()
        }
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def requirements_review(plan: Plan, mode: Mode) -> Review:
    """What the plan's requirements need from the system on `mode`'s Python: the one input of
    the step compiler that asks uv (against the index, or its cache), probes the host's
    python3 and reads the requirements files."""
    if mode is Mode.CONTAINER:
        return source_builds.review(plan, source_builds.container_target(plan))
    return source_builds.review(plan, source_builds.host_target())


def compile_plan(plan: Plan) -> Recipe:
    """The one compile of a command run: hand the recipe to everything that needs steps."""
    return Recipe(plan)
