"""Documents remember where they came from (a URL or a file name), when known.

The table itself comes from db/init/001-schema.sql, made when the database is new; from here
on the schema changes through migrations, applied by `alembic upgrade head` (a setup task).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("source", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("documents", "source")
