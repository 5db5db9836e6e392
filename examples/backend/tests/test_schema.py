"""db/init/001-schema.sql (run by devenv when the database is new, from [postgres] init) and the
migrations (`alembic upgrade head`, a setup task) make the schema app/db.py describes: the same
columns and the HNSW index."""

from __future__ import annotations

from sqlalchemy import text

from app.db import HNSW_INDEX, Document, make_engine


def test_the_seeded_schema_is_the_models(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            columns = conn.execute(
                text(
                    "SELECT column_name, is_nullable FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND table_name = 'documents'"
                    " ORDER BY ordinal_position"
                )
            ).all()
            index = conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = :n"
                ),
                {"n": HNSW_INDEX},
            ).scalar()
    finally:
        engine.dispose()
    model = [(c.name, "YES" if c.nullable else "NO") for c in Document.__table__.columns]
    assert [tuple(row) for row in columns] == model, "db/init + migrations differ from app/db.py"
    assert index is not None and "hnsw" in index and "vector_cosine_ops" in index
