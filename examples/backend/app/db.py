"""The database: an engine from DATABASE_URL, the documents table with its HNSW index.

DATABASE_URL is a libpq URL without a password (`postgresql://user@host:5432/db`); libpq takes
the password from PGPASSWORD (or ~/.pgpass). The same variables work in the dev container
(compose sets them) and on a host after `devenv host-install --with-db`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import DateTime, Engine, Index, String, Text, create_engine, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.embedding import DIM

HNSW_INDEX = "documents_embedding_hnsw"


class Base(DeclarativeBase):
    pass


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    embedding: Mapped[Any] = mapped_column(Vector(DIM))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Added by migrations/versions/0001_document_source.py.
    source: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        # Approximate nearest neighbours by cosine distance (the <=> operator).
        Index(
            HNSW_INDEX,
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )


class DatabaseNotConfigured(RuntimeError):
    pass


def database_url(env: Mapping[str, str] = os.environ) -> str:
    raw = env.get("DATABASE_URL", "").strip()
    if not raw:
        raise DatabaseNotConfigured(
            "DATABASE_URL is not set: run inside the dev container (devenv up, or VS Code "
            "'Reopen in Container'), or export DATABASE_URL=postgresql://USER@HOST:PORT/DB "
            "and PGPASSWORD after `devenv host-install --with-db`"
        )
    return raw


def make_engine(url: str, *, search_path: str | None = None, **kwargs: Any) -> Engine:
    """SQLAlchemy engine on psycopg 3 for a libpq URL (postgresql:// means psycopg2 to
    SQLAlchemy, so the driver is set here); `search_path` puts tables in another schema."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if search_path:
        kwargs.setdefault("connect_args", {})["options"] = f"-c search_path={search_path}"
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def init_db(engine: Engine) -> None:
    """The extension (needs a role allowed to create it, or an existing one), then the
    table and its HNSW index. Idempotent."""
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    Base.metadata.create_all(engine)
