"""Alembic's environment: the database of DATABASE_URL (the password through PGPASSWORD), as
the app finds it, in the dev container and on a host alike."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from app.db import Base, database_url, make_engine

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name)
engine = make_engine(database_url())
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
