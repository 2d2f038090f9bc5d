"""Provider health keeps a 429's ``retry_at``, so live scores from a snapshot honour it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider_health") as table:
        table.add_column(sa.Column("retry_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider_health") as table:
        table.drop_column("retry_at")
