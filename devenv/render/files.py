"""Every generated file of a plan, as (path, content, mode): the one list generate writes."""

from __future__ import annotations

from devenv.fs.header import with_header
from devenv.fs.model import TMP_SUFFIX, GeneratedFile
from devenv.plan.lockfile import LOCK_FILE
from devenv.plan.model import Plan
from devenv.project.project_lock import GENERATED as PROJECT_PINS
from devenv.render import scripts
from devenv.render.compose import ENGINE_SCRIPT, render_compose
from devenv.render.devcontainer import render_devcontainer
from devenv.render.dockerfile import render_dockerfile
from devenv.render.tasks import SCRIPT as SETUP_TASKS
from devenv.render.tasks import render_script
from devenv.steps.model import CERTS_DIR, DB_ENTRYPOINT, USER_SCRIPT
from devenv.steps.recipe import Recipe

DOCKERFILE = "docker/Dockerfile"
COMPOSE = "compose.yaml"
DEVCONTAINER = ".devcontainer/devcontainer.json"
INIT_ENV = "docker/init-env.sh"
DOCKERIGNORE = ".dockerignore"
CERTS_README = f"{CERTS_DIR}/README.md"


def render_dockerignore(plan: Plan) -> str:
    # An allow-list: the build context is only what the Dockerfile copies, so editing any
    # other file in the project can never invalidate the image cache.
    # Of docker/certs/ only the certificates: nothing else there can reach an image.
    allowed = ["docker/", *plan.requirements.files, *([LOCK_FILE] if plan.lock else [])]
    return (
        "*\n"
        + "".join(f"!{path}\n" for path in allowed)
        + f"{CERTS_DIR}/*\n!{CERTS_DIR}/*.crt\n"
        + f"**/*{TMP_SUFFIX}\n"  # a write killed half way never reaches an image
    )


CERTS_NOTE = """\
Extra CA certificates (PEM, `*.crt`) that builds of `docker/Dockerfile` trust.

`devenv build` and `devenv generate` copy the host's extra CA certificates here (the local CA
folder, and bundles named by SSL_CERT_FILE, REQUESTS_CA_BUNDLE or PIP_CERT), so builds behind a
TLS-intercepting proxy work, VS Code's included. The `*.crt` files are git-ignored: they
belong to this machine's network, not to the project. Files holding a private key are refused.
"""


def render_all(recipe: Recipe) -> tuple[GeneratedFile, ...]:
    plan = recipe.plan

    def sh(path: str, body: str) -> GeneratedFile:
        return GeneratedFile(path=path, content=with_header(body), executable=True)

    return (
        GeneratedFile(path=DOCKERFILE, content=with_header(render_dockerfile(recipe))),
        sh(DB_ENTRYPOINT, scripts.DB_ENTRYPOINT),
        sh(USER_SCRIPT, scripts.CREATE_USER),
        sh(INIT_ENV, scripts.INIT_ENV),
        GeneratedFile(path=CERTS_README, content=with_header(CERTS_NOTE, "<!--", " -->")),
        GeneratedFile(path=DOCKERIGNORE, content=with_header(render_dockerignore(plan))),
        GeneratedFile(path=COMPOSE, content=with_header(render_compose(plan))),
        GeneratedFile(path=DEVCONTAINER, content=with_header(render_devcontainer(plan), "//")),
        *([sh(SETUP_TASKS, render_script(plan))] if plan.tasks.setup else []),
        *([sh(ENGINE_SCRIPT, scripts.ENGINE_ACCESS)] if plan.devcontainer.engine_access else []),
        *(
            [GeneratedFile(path=PROJECT_PINS, content=with_header(plan.python.project_pins))]
            if plan.python.project_pins is not None
            else []
        ),
    )
