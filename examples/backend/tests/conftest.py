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
    db = make_engine(url, search_path=f"{schema},public")
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
        conn.execute(text("DROP TABLE IF EXISTS documents"))
    with TestClient(create_app(engine)) as test_client:
        yield test_client
