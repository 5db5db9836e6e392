"""The database is at the newest migration: `alembic upgrade head` ran as a setup task
(devenv up, VS Code's postStartCommand, or host-install --with-db)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.db import make_engine

ROOT = Path(__file__).resolve().parents[1]


def test_the_database_is_at_the_newest_migration(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM public.alembic_version")).scalar()
    finally:
        engine.dispose()
    assert head == "0001" and current == head, "run the setup tasks: devenv up"
