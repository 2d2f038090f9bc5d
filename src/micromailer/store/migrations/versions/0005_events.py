"""After the provider said yes: delivery events, suppression lists, client callbacks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from micromailer.store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_emails_provider_message_id", "emails", ["provider_message_id"])
    op.create_table(
        "email_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email_id", sa.String(36),
                  sa.ForeignKey("emails.id", ondelete="CASCADE"), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("event_key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("bounce", sa.String(8), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.UniqueConstraint("provider", "event_key", name="uq_email_events_provider_key"),
    )
    op.create_index("ix_email_events_email_id", "email_events", ["email_id"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("email_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("project", "address", name="uq_suppressions_project_address"),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", sa.String(255), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_callbacks_project", "callbacks", ["project"])
    op.create_table(
        "callback_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("callback_id", sa.String(36),
                  sa.ForeignKey("callbacks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email_id", sa.String(36), nullable=True),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", UTCDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_callback_deliveries_callback_created", "callback_deliveries",
                    ["callback_id", "created_at"])
    op.create_index("ix_callback_deliveries_status_next_at", "callback_deliveries",
                    ["status", "next_at"])


def downgrade() -> None:
    op.drop_table("callback_deliveries")
    op.drop_table("callbacks")
    op.drop_table("suppressions")
    op.drop_table("email_events")
    op.drop_index("ix_emails_provider_message_id", table_name="emails")
