"""compose.yaml: `app` from the dev image, `db` from the db image, produced by a YAML dumper.

The password never appears here: both services read .devenv/db.env (git-ignored, created by
devenv or by docker/init-env.sh), and libpq takes PGPASSWORD, so DATABASE_URL carries none.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from devenv.plan import db_init
from devenv.plan.envfiles import DOTENV
from devenv.plan.model import Plan, Postgres
from devenv.render.devcontainer import devcontainer_data
from devenv.render.dockerfile import render_dockerfile
from devenv.render.labels import LABEL_PROJECT
from devenv.steps.model import DB_DATA
from devenv.steps.recipe import Recipe, compile_plan

ENV_FILE = ".devenv/db.env"
# The engine's socket on the host (the path Docker Desktop maps to its VM's engine too), and
# where the app container sees it: not under /var/run, which is a symlink to /run in the
# image, and Docker 28 then refuses every copy into the container (`docker cp`, put_archive:
# "mkdirat var/run: path escapes from parent"). Clients still find it at the default
# /var/run/docker.sock through that symlink, so DOCKER_HOST stays unset.
ENGINE_SOCKET = "/var/run/docker.sock"
ENGINE_SOCKET_INSIDE = "/run/docker.sock"
ENGINE_SCRIPT = "docker/engine-access.sh"
LOCAL_COMPOSE = ".devenv/compose.local.yaml"  # devenv.local.toml's overrides, git-ignored
LOCAL_DOCKERFILE = ".devenv/Dockerfile.local"  # the team's Dockerfile + this machine's packages
LOCAL_STAGE = "local"
LABEL = LABEL_PROJECT
# The devcontainer.json keys the Dev Containers CLI keeps in image metadata.
METADATA_KEYS = frozenset(
    {
        "onCreateCommand", "updateContentCommand", "postCreateCommand", "postStartCommand",
        "postAttachCommand", "waitFor", "customizations", "mounts", "containerEnv",
        "containerUser", "init", "privileged", "capAdd", "securityOpt", "remoteUser",
        "userEnvProbe", "remoteEnv", "overrideCommand", "portsAttributes",
        "otherPortsAttributes", "forwardPorts", "shutdownAction", "updateRemoteUserUID",
        "hostRequirements",
    }
)  # fmt: skip
NO_LOCAL = "# No devenv.local.toml overrides: `devenv generate` writes them here.\nservices: {}\n"


def app_env_files(plan: Plan) -> list[dict[str, Any]]:
    """The app's env files, lowest precedence first (compose: a later file wins, and
    `environment:` wins over all): `.env` if present, the plan's, then the password file."""
    named = [f for f in plan.env.files if f != DOTENV]
    return [
        {"path": DOTENV, "required": False},
        *({"path": f, "required": True} for f in named),
        {"path": ENV_FILE, "required": False},
    ]


def compose_data(plan: Plan) -> dict[str, Any]:
    name = plan.environment.name
    return {
        "name": name,
        "services": {"app": _app_service(plan), "db": _db_service(plan)},
        "volumes": {"db-data": {"labels": {LABEL: name}}},
    }


def _build(target: str) -> dict[str, Any]:
    """Both services build a stage of docker/Dockerfile."""
    return {"context": ".", "dockerfile": "docker/Dockerfile", "target": target}


def _app_service(plan: Plan) -> dict[str, Any]:
    """The app: the dev image idling in the workspace, started once the database is healthy;
    [devcontainer] engine_access adds the engine's socket."""
    pg = plan.postgres
    app: dict[str, Any] = {
        "build": _build("dev"),
        "image": plan.image("dev"),
        "init": True,
        "command": ["sleep", "infinity"],
        "working_dir": plan.devcontainer.workspace,
        "volumes": [f".:{plan.devcontainer.workspace}:cached"],
        "env_file": app_env_files(plan),
        "environment": {
            **dict(plan.env.vars),
            "DATABASE_URL": f"postgresql://{pg.user}@db:5432/{pg.database}",
            "PGHOST": "db",
            "PGUSER": pg.user,
            "PGDATABASE": pg.database,
        },
        "depends_on": {"db": {"condition": "service_healthy"}},
        "stop_grace_period": "2s",
        "labels": {LABEL: plan.environment.name},
    }
    if plan.devcontainer.engine_access:
        _engine_access(plan, app)
    return app


def _db_service(plan: Plan) -> dict[str, Any]:
    """The database: the db image, its data in a volume, its port on this machine only."""
    pg = plan.postgres
    return {
        "build": _build("db"),
        "image": plan.image("db"),
        "env_file": [{"path": ENV_FILE, "required": False}],
        "environment": {"POSTGRES_USER": pg.user, "POSTGRES_DB": pg.database},
        "volumes": _db_volumes(plan),
        # Only this machine can reach the database.
        "ports": [f"127.0.0.1:{pg.host_port}:5432"],
        "healthcheck": _db_healthcheck(pg),
        "stop_grace_period": "10s",
        "labels": {LABEL: plan.environment.name},
    }


def _db_volumes(plan: Plan) -> list[Any]:
    """The data volume, then each [postgres] init mount (read-only)."""
    return [
        f"db-data:{DB_DATA}",
        # [postgres] init: run by the entrypoint when it makes a new database.
        *(
            {
                "type": "bind",
                "source": f"./{m.source}",
                "target": m.target,
                "read_only": True,
            }
            for m in db_init.mounts(plan)
        ),
    ]


def _db_healthcheck(pg: Postgres) -> dict[str, Any]:
    return {
        # Over TCP: the init phase listens on the socket only, so this stays
        # unhealthy until the real server is up.
        "test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", pg.user, "-d", pg.database],
        "interval": "2s",
        "timeout": "5s",
        "retries": 30,
        "start_period": "5s",
    }


def _engine_access(plan: Plan, app: dict[str, Any]) -> None:
    """[devcontainer] engine_access: the engine's socket in the app container; the container
    starts as root only to put the dev user in the socket's group (docker/engine-access.sh),
    then every command (compose exec, VS Code) runs as the dev user. Containers the user's
    tests start are the app's siblings: testcontainers reaches their published ports
    through the host's gateway."""
    workspace = plan.devcontainer.workspace
    app["user"] = "root"
    app["command"] = ["sh", f"{workspace}/{ENGINE_SCRIPT}", plan.environment.user]
    app["volumes"] = [*app["volumes"], f"{ENGINE_SOCKET}:{ENGINE_SOCKET_INSIDE}"]
    app["environment"] = {
        **app["environment"],
        "TESTCONTAINERS_HOST_OVERRIDE": "host.docker.internal",
    }
    app["extra_hosts"] = ["host.docker.internal:host-gateway"]


class _Dumper(yaml.SafeDumper):
    """Writes repeated values out in full: anchors and aliases confuse readers of the file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def escape(data: Any) -> Any:
    """Every string with `$` written `$$`: Compose substitutes variables in every value of the
    file, so a `$` of the plan's (an [env] vars value, a `${localEnv:HOME}` VS Code setting)
    would be taken from the environment compose runs in, or refused."""
    if isinstance(data, str):
        return data.replace("$", "$$")
    if isinstance(data, dict):
        return {escape(k): escape(v) for k, v in data.items()}
    if isinstance(data, list):
        return type(data)(escape(v) for v in data)
    return data


def render_compose(plan: Plan) -> str:
    return yaml.dump(escape(compose_data(plan)), Dumper=_Dumper, sort_keys=False, width=100)


def render_local_compose(plan: Plan) -> str:
    """.devenv/compose.local.yaml: this machine's devenv.local.toml, as a compose override
    file devenv and VS Code pass after compose.yaml (never committed)."""
    local = plan.local
    if local is None:
        return NO_LOCAL
    services: dict[str, Any] = {}
    if local.packages:
        # The app runs an image of its own: the team's dev stage plus this machine's packages,
        # built by `devenv up` and by VS Code (compose) from .devenv/Dockerfile.local.
        services["app"] = {
            "build": {"context": ".", "dockerfile": LOCAL_DOCKERFILE, "target": LOCAL_STAGE},
            "image": local_image(plan),
        }
    if local.host_port is not None:
        ports = [f"127.0.0.1:{local.host_port}:5432"]
        services["db"] = {"ports": _Override(ports)}
    metadata: dict[str, Any] = {}
    if local.forward_ports:
        metadata["forwardPorts"] = list(local.forward_ports)
    vscode: dict[str, Any] = {}
    if local.extensions:
        vscode["extensions"] = list(local.extensions)
    if local.settings:
        vscode["settings"] = dict(local.settings)
    if vscode:
        metadata["customizations"] = {"vscode": vscode}
    if metadata:
        # The Dev Containers CLI reads a container's devcontainer.metadata label as the whole
        # list of configuration entries (it bakes devcontainer.json's own entry into the image's
        # label, which a container label replaces), so the team's entry comes first, then ours.
        team = {k: v for k, v in devcontainer_data(plan).items() if k in METADATA_KEYS}
        label = json.dumps([team, metadata], sort_keys=True)
        services.setdefault("app", {})["labels"] = {"devcontainer.metadata": label}
    head = f"# From {local.path.name} (this machine only): `devenv generate` rewrites it.\n"
    body = escape({"services": services})
    return head + yaml.dump(body, Dumper=_Dumper, sort_keys=False, width=100)


class _Override(list[Any]):
    """A list compose must replace, not append to (its `!override` tag)."""


_Dumper.add_representer(
    _Override, lambda dumper, data: dumper.represent_sequence("!override", list(data))
)


def local_image(plan: Plan) -> str:
    return f"devenv/{plan.environment.name}-dev-local:latest"


def render_local_dockerfile(plan: Plan, recipe: Recipe | None = None) -> str | None:
    """The team's Dockerfile and a last stage with devenv.local.toml's [system] packages, or
    None without any (the app then runs the team's dev image)."""
    if plan.local is None or not plan.local.packages:
        return None
    user = plan.environment.user
    install = " ".join(plan.local.packages)  # each a validated Debian package spec
    return (
        f"# From {plan.local.path.name} (this machine only): `devenv generate` rewrites it.\n"
        + render_dockerfile(recipe or compile_plan(plan))
        + f"\nFROM dev AS {LOCAL_STAGE}\nUSER root\n"
        "# hadolint ignore=DL3008\n"
        "RUN apt-get -o DPkg::Lock::Timeout=120 update \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y "
        f"--no-install-recommends {install} \\\n"
        " && find /var/lib/apt/lists -type f -delete\n"
        f"USER {user}\n"
    )
