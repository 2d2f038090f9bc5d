"""Retry by hand: an email's delivery cycles (``POST /email/{id}/retry``), each attempt's cycle.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emails") as table:
        table.add_column(sa.Column("retries", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(
            sa.Column("cycle_start", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("attempts") as table:
        table.add_column(sa.Column("cycle", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as table:
        table.drop_column("cycle")
    with op.batch_alter_table("emails") as table:
        table.drop_column("cycle_start")
        table.drop_column("retries")
