"""`devenv init`: a commented default plan for the folder it is run in."""

from __future__ import annotations

import json
import os
from pathlib import Path

from devenv.errors import UsageError
from devenv.files.atomic import atomic_write
from devenv.plan import validate
from devenv.plan.model import PLAN_FILE

TEMPLATE = """\
# devenv plan: one file for the container (VS Code, `devenv build`) and the host
# (`devenv host-install`). Edit, then run `devenv generate`. Every key is optional.

[environment]
name = {name}                  # names images, compose project and volumes
base = "ubuntu:24.04"             # image reference; distro and release come from it
# mirror = "http://…/ubuntu"      # archive for `devenv base` (default: host apt config)
# keyring = "keys/archive.gpg"    # keyring for that archive (default: found or fetched)
# user = "dev"                    # the non-root user of the dev image

[system]
packages = ["build-essential", "libpq-dev"]   # apt packages, `name` or `name=version`

[postgres]
version = 16                      # PostgreSQL major; Ubuntu 24.04's archive ships 16
extensions = ["pgvector"]
source = "distro"                 # or "pgdg" (the PostgreSQL apt repository)
# host_port = 5432                # published on 127.0.0.1 only
# user = "postgres"
# database = "app"

[python]
venv = ".venv"                    # the host venv; the image's is /opt/venv
requirements = {requirements}
# installer = "pip"               # default uv; pip when a requirements file needs pip
smoke = {smoke}   # imported after install
# allow_index_options = false     # allow --index-url & co. in requirements files

[devcontainer]
forward_ports = [8000]
# extensions = ["ms-python.python"]
"""


def init_plan(project_dir: Path) -> tuple[Path, tuple[str, ...]]:
    path = project_dir / PLAN_FILE
    if os.path.lexists(path):  # a link, even a dangling one, is the user's: never replaced
        raise UsageError(
            f"{path} already exists; devenv init never overwrites a plan",
            hint="edit it, or delete it first",
        )
    found = tuple(
        p.relative_to(project_dir).as_posix()
        for p in [project_dir / "requirements.txt", *sorted(project_dir.glob("requirements/*.txt"))]
        if p.is_file()
    )
    smoke = ["fastapi", "sqlalchemy", "pgvector.psycopg"] if found else []
    text = TEMPLATE.format(
        name=json.dumps(validate.slug(project_dir.resolve().name)),
        requirements=json.dumps(list(found[:1])),
        smoke=json.dumps(smoke),
    )
    atomic_write(path, text)
    return path, found
