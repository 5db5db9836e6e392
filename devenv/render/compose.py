"""compose.yaml: `app` from the dev image, `db` from the db image, produced by a YAML dumper.

The password never appears here: both services read .devenv/db.env (git-ignored, created by
devenv or by docker/init-env.sh), and libpq takes PGPASSWORD, so DATABASE_URL carries none.
"""

from __future__ import annotations

from typing import Any

import yaml

from devenv import db_init
from devenv.plan import Plan
from devenv.steps import DB_DATA

ENV_FILE = ".devenv/db.env"
LABEL = "dev.devenv.project"


def compose_data(plan: Plan) -> dict[str, Any]:
    pg = plan.postgres
    name = plan.environment.name
    env_file = [{"path": ENV_FILE, "required": False}]
    build = {"context": ".", "dockerfile": "docker/Dockerfile"}
    return {
        "name": name,
        "services": {
            "app": {
                "build": {**build, "target": "dev"},
                "image": plan.image("dev"),
                "init": True,
                "command": ["sleep", "infinity"],
                "working_dir": plan.devcontainer.workspace,
                "volumes": [f".:{plan.devcontainer.workspace}:cached"],
                "env_file": env_file,
                "environment": {
                    "DATABASE_URL": f"postgresql://{pg.user}@db:5432/{pg.database}",
                    "PGHOST": "db",
                    "PGUSER": pg.user,
                    "PGDATABASE": pg.database,
                },
                "depends_on": {"db": {"condition": "service_healthy"}},
                "stop_grace_period": "2s",
                "labels": {LABEL: name},
            },
            "db": {
                "build": {**build, "target": "db"},
                "image": plan.image("db"),
                "env_file": env_file,
                "environment": {"POSTGRES_USER": pg.user, "POSTGRES_DB": pg.database},
                "volumes": [
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
                ],
                # Only this machine can reach the database.
                "ports": [f"127.0.0.1:{pg.host_port}:5432"],
                "healthcheck": {
                    # Over TCP: the init phase listens on the socket only, so this stays
                    # unhealthy until the real server is up.
                    "test": [
                        "CMD",
                        "pg_isready",
                        "-h",
                        "127.0.0.1",
                        "-U",
                        pg.user,
                        "-d",
                        pg.database,
                    ],
                    "interval": "2s",
                    "timeout": "5s",
                    "retries": 30,
                    "start_period": "5s",
                },
                "stop_grace_period": "10s",
                "labels": {LABEL: name},
            },
        },
        "volumes": {"db-data": {"labels": {LABEL: name}}},
    }


class _Dumper(yaml.SafeDumper):
    """Writes repeated values out in full: anchors and aliases confuse readers of the file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_compose(plan: Plan) -> str:
    return yaml.dump(compose_data(plan), Dumper=_Dumper, sort_keys=False, width=100)
