"""The example backend (the default plan) on a bare Ubuntu 24.04 host: `devenv host-install
--with-db` (which runs its Alembic migration, a setup task), then its own tests through `devenv
run -- pytest` against the local PostgreSQL + pgvector that host-install made (no Docker
inside)."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

from devenv.container.engine import Engine
from tests.integration.conftest_host import (
    bare_noble_host_image,  # noqa: F401 (a fixture)
    start_host,
    stop_host,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backend"
SOURCES = (
    "devenv.toml", "requirements.txt", "pyproject.toml", "alembic.ini", "app", "db", "migrations",
    "tests",
)  # fmt: skip


def test_example_tests_pass_after_host_install_with_db(
    engine: Engine,
    bare_noble_host_image: str,  # noqa: F811
) -> None:
    box = start_host(
        engine, bare_noble_host_image, user="root", project="/srv/docsearch", docker_socket=False
    )
    try:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name in SOURCES:
                tar.add(EXAMPLE / name, arcname=name)
        assert box.run(["mkdir", "-p", box.project])[0] == 0
        assert engine.api.put_archive(box.id, box.project, buffer.getvalue())

        code, out = box.devenv("host-install", "--with-db")
        assert code == 0, out[-4000:]
        # [postgres] init made the schema (tests/test_schema.py compares it with the model).
        assert "running /srv/docsearch/db/init/001-schema.sql" in out, out[-4000:]
        assert re.search(r"Init scripts of \[postgres\] init .* changed", out), out[-4000:]
        urls = re.findall(r"^DATABASE_URL=(\S+)$", out, re.M)
        assert urls, out[-2000:]
        # [tasks] setup: the Alembic migration ran on the new database, in the new venv.
        assert re.search(r"Setup tasks of \[tasks\] setup \(1\) \.\.\. changed \(1/1 ran: "
                         r"alembic upgrade head \(\d+\.\ds\)\)", out), out[-4000:]  # fmt: skip

        # As the README says: `devenv run -- pytest`, here on the host (no engine inside).
        code, out = box.devenv("run", "--", "pytest", "-q")
        assert code == 0, out[-4000:]
        assert re.search(r"\d+ passed", out), out
    finally:
        stop_host(box)
