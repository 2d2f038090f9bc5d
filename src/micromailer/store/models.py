"""SQLAlchemy models: emails, their attempts and events, the providers' health snapshots,
the security tables (API keys, idempotency keys, the audit log), suppressions and callbacks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class EmailRow(Base):
    __tablename__ = "emails"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    to_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(1000))
    content: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    sender_email: Mapped[str] = mapped_column(String(320))
    sender_name: Mapped[str] = mapped_column(String(200))
    #: The project of the API key that sent it; ``None`` when authentication was off.
    project: Mapped[str | None] = mapped_column(String(100))
    #: Sent with a test key: delivered to the sandbox fakes, never to a real provider.
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Every recipient and extra as JSON (``domain/envelope.py``); ``None`` when the email has
    #: one ``to`` recipient and nothing else.
    envelope: Mapped[str | None] = mapped_column(Text)

    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    #: Claims so far, over every delivery cycle: the number of the latest attempt.
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Retries by hand (``POST /email/{id}/retry``), each the start of a new delivery cycle.
    retries: Mapped[int] = mapped_column(Integer, default=0)
    #: Claims before the current cycle: its attempts are numbered from ``cycle_start + 1``, and
    #: ``MICROMAILER_MAX_ATTEMPTS`` counts from there.
    cycle_start: Mapped[int] = mapped_column(Integer, default=0)
    #: When the email is next expected to be picked up by a worker.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: While ``sending``: until when the claiming worker holds it.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    attempts: Mapped[list[AttemptRow]] = relationship(
        back_populates="email", order_by="AttemptRow.id", lazy="selectin"
    )
    events: Mapped[list[EmailEventRow]] = relationship(
        order_by="(EmailEventRow.at, EmailEventRow.id)", lazy="selectin", viewonly=True
    )

    __table_args__ = (
        Index("ix_emails_status_due_at", "status", "due_at"),
        Index("ix_emails_created_at", "created_at"),
        Index("ix_emails_project_created_at", "project", "created_at"),
    )


class EmailEventRow(Base):
    """One provider event about an email (``domain/events.py``), kept once however often the
    provider sends it."""

    __tablename__ = "email_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email_id: Mapped[str] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    #: The provider's identity of the event (``ProviderEvent.event_id``): the de-duplication key.
    event_key: Mapped[str] = mapped_column(String(255))
    #: An ``EventType``.
    type: Mapped[str] = mapped_column(String(16))
    #: ``hard`` or ``soft`` for a bounce.
    bounce: Mapped[str | None] = mapped_column(String(8))
    recipient: Mapped[str | None] = mapped_column(String(320))
    detail: Mapped[str | None] = mapped_column(Text)
    #: When the provider says it happened.
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The provider's own record of the event, as JSON.
    raw: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("provider", "event_key", name="uq_email_events_provider_key"),
    )


class SuppressionRow(Base):
    """An address a project no longer sends to: it bounced hard, complained, or was added."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: ``""`` when authentication is off (one list for everyone).
    project: Mapped[str] = mapped_column(String(100))
    #: Lower case.
    address: Mapped[str] = mapped_column(String(320))
    #: ``bounced``, ``complained`` or ``manual``.
    reason: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    #: The email whose event put it here.
    email_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("project", "address", name="uq_suppressions_project_address"),
    )


class CallbackRow(Base):
    """A URL of a project's that is told of its emails' status changes."""

    __tablename__ = "callbacks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    #: The event types it wants, comma-separated.
    events: Mapped[str] = mapped_column(String(255))
    #: The Standard Webhooks signing secret (``whsec_…``); shown to the client once.
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CallbackDeliveryRow(Base):
    """One event POSTed (or still to be) to one callback URL, with its tries so far."""

    __tablename__ = "callback_deliveries"

    #: The ``webhook-id`` header: the same on every retry of this delivery.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    callback_id: Mapped[str] = mapped_column(ForeignKey("callbacks.id", ondelete="CASCADE"))
    email_id: Mapped[str | None] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(16))
    #: The JSON body, exactly as signed.
    payload: Mapped[str] = mapped_column(Text)
    #: ``pending``, ``delivered`` or ``failed`` (given up).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When the next try is due, while ``pending``.
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_callback_deliveries_callback_created", "callback_id", "created_at"),
        Index("ix_callback_deliveries_status_next_at", "status", "next_at"),
    )


class AttachmentRow(Base):
    """One file of an email, stored once whatever the number of attempts."""

    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email_id: Mapped[str] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"), index=True)
    #: Its place among the email's attachments, from 0.
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    #: Set for an inline image.
    content_id: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class AttemptRow(Base):
    """One provider try. One delivery attempt may hold several (failover)."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email_id: Mapped[str] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"), index=True)
    attempt_number: Mapped[int] = mapped_column(Integer)
    #: The email's delivery cycle it belongs to: 1, then one more per retry by hand.
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    provider: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(24))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)

    email: Mapped[EmailRow] = relationship(back_populates="attempts")


class ProviderHealthRow(Base):
    """The last health a worker published for a provider (embedded mode's live scores)."""

    __tablename__ = "provider_health"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    health: Mapped[float] = mapped_column(Float)
    #: Seconds since the epoch of the last failure, as the board's clock counts.
    last_error: Mapped[float | None] = mapped_column(Float)
    #: Seconds since the epoch before which the provider asked, with a 429's ``Retry-After``,
    #: not to be sent anything.
    retry_at: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    """An API key: its hash and a short visible prefix, never the key itself."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    project: Mapped[str] = mapped_column(String(100))
    #: ``send`` or ``admin``.
    scope: Mapped[str] = mapped_column(String(16))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The key's own rate limit (``limits`` syntax), else ``MICROMAILER_RATE_LIMIT``.
    rate_limit: Mapped[str | None] = mapped_column(String(100))
    #: The key's first characters, shown in listings to tell keys apart.
    prefix: Mapped[str] = mapped_column(String(32))
    #: SHA-256 of the whole key, hex: keys are long random strings, so no slow hash is needed.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyKeyRow(Base):
    """One ``Idempotency-Key`` of a project: the request it was first used with and, once
    answered, that answer, replayed to every retry until it expires."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: ``""`` when authentication is off (one namespace for everyone).
    project: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of the request's decoded fields, hex.
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: ``None`` while the first request is still being answered.
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    email_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    __table_args__ = (UniqueConstraint("project", "key", name="uq_idempotency_project_key"),)


class AuditEventRow(Base):
    """One audited event: key management, an accepted email, a refused authentication.

    Never content or secrets."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: ``key.created``, ``key.revoked``, ``email.accepted``, ``email.retried``, ``auth.refused``.
    kind: Mapped[str] = mapped_column(String(32))
    key_name: Mapped[str | None] = mapped_column(String(100))
    project: Mapped[str | None] = mapped_column(String(100))
    client: Mapped[str | None] = mapped_column(String(64))
    email_id: Mapped[str | None] = mapped_column(String(36))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    #: A short sentence (why an authentication was refused, how many were not sampled…).
    detail: Mapped[str | None] = mapped_column(Text)


__all__ = [
    "ApiKeyRow",
    "AttachmentRow",
    "AttemptRow",
    "AuditEventRow",
    "Base",
    "CallbackDeliveryRow",
    "CallbackRow",
    "EmailEventRow",
    "EmailRow",
    "IdempotencyKeyRow",
    "ProviderHealthRow",
    "SuppressionRow",
    "UTCDateTime",
]
