"""Rich messages: every recipient and extra in the email's envelope, attachments stored once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emails") as table:
        table.add_column(sa.Column("envelope", sa.Text(), nullable=True))
    op.create_table(
        "email_attachments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email_id", sa.String(36),
                  sa.ForeignKey("emails.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("content_id", sa.String(200), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_email_attachments_email_id", "email_attachments", ["email_id"])


def downgrade() -> None:
    op.drop_index("ix_email_attachments_email_id", table_name="email_attachments")
    op.drop_table("email_attachments")
    with op.batch_alter_table("emails") as table:
        table.drop_column("envelope")
