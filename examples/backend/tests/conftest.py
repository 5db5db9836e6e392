"""The database tests run against a real PostgreSQL with pgvector, named by DATABASE_URL (the
password through PGPASSWORD or ~/.pgpass, as libpq reads them):

- in the dev container, compose sets both (`devenv up`, or VS Code "Reopen in Container");
- on a host after `devenv host-install --with-db`, export them for the database it made.

Each run works in a schema of its own, dropped at the end, so your data is left alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.db import DatabaseNotConfigured, database_url, make_engine
from app.main import create_app


@pytest.fixture(scope="session")
def url() -> str:
    try:
        return database_url()
    except DatabaseNotConfigured as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def engine(url: str) -> Iterator[Engine]:
    schema = f"test_{secrets.token_hex(4)}"
    admin = make_engine(url)
    with admin.begin() as conn:
        # In the default schema, so dropping the test schema keeps it.
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    # Tables go to the test schema even where the seeded public.documents is visible
    # (db/init makes it): create_all checks, and creates, in the translated schema.
    db = make_engine(
        url,
        search_path=f"{schema},public",
        execution_options={"schema_translate_map": {None: schema}},
    )
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with engine.begin() as conn:
        schema = engine.get_execution_options()["schema_translate_map"][None]
        conn.execute(text(f"DROP TABLE IF EXISTS {schema}.documents"))
    with TestClient(create_app(engine)) as test_client:
        yield test_client
