"""Response bodies, camelCase on the wire as the original API had them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from micromailer.domain.attempt import EmailView
from micromailer.domain.envelope import Envelope
from micromailer.domain.events import BounceKind, EventType
from micromailer.domain.message import Address
from micromailer.domain.status import Status
from micromailer.domain.validation import MAX_CONTENT_BYTES
from micromailer.health.snapshots import ProviderScore


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EmailAccepted(CamelModel):
    status: Literal["queued"] = "queued"
    email_id: str


class BatchItemAccepted(CamelModel):
    """An item of a batch stored and queued, as ``POST /email``'s 202 would have said."""

    index: int = Field(description="The item's place in `emails`, from 0.")
    status: Literal[202] = 202
    email_id: str


class BatchItemRefused(CamelModel):
    """An item of a batch refused, as ``POST /email``'s 400 would have said: nothing of it
    was stored."""

    index: int = Field(description="The item's place in `emails`, from 0.")
    status: Literal[400] = 400
    error: str = Field(description="One sentence saying what to fix.")


class BatchAccepted(CamelModel):
    """``POST /emails``'s answer: one result per item, in order, and their counts."""

    results: list[BatchItemAccepted | BatchItemRefused]
    accepted: int
    refused: int


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorBody(CamelModel):
    status: Literal["failed"] = "failed"
    error: str
    details: list[ErrorDetail] = []


class NotFoundBody(CamelModel):
    status: Literal["notfound"] = "notfound"
    email_id: str


class AttemptOut(CamelModel):
    attempt: int
    cycle: int = Field(
        default=1, description="The delivery cycle of this try: 1, then one more per retry "
                               "(`POST /email/{id}/retry`)."
    )
    provider: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    status_code: int | None
    error: str | None


class EventOut(CamelModel):
    """What a provider reported after accepting the email (docs/events.md)."""

    type: EventType
    at: datetime
    provider: str
    detail: str | None
    recipient: str | None
    #: ``hard`` or ``soft``, for a bounce.
    bounce: BounceKind | None


class AddressOut(BaseModel):
    email: str
    name: str | None = None


class RecipientsOut(BaseModel):
    """Every recipient, by the field that addressed it."""

    to: list[AddressOut]
    cc: list[AddressOut] = []
    bcc: list[AddressOut] = []


class AttachmentOut(CamelModel):
    """An attachment by name and size: its content is never shown."""

    filename: str
    content_type: str
    size: int
    content_id: str | None = None


def _addresses(addresses: tuple[Address, ...]) -> list[AddressOut]:
    return [AddressOut(email=item.email, name=item.name) for item in addresses]


class EmailOut(CamelModel):
    email_id: str
    status: Status
    #: The first ``to`` recipient (the original API's fields); ``recipients`` has them all.
    to: str
    to_name: str | None
    recipients: RecipientsOut
    reply_to: list[AddressOut] = []
    sender: AddressOut | None = Field(default=None, alias="from")
    attachments: list[AttachmentOut] = []
    tags: list[str] = []
    metadata: dict[str, str] = {}
    subject: str
    provider: str | None
    provider_message_id: str | None
    attempt_count: int
    retries: int = Field(
        default=0, description="Retries asked for with `POST /email/{id}/retry`; each started "
                               "a new delivery cycle (its attempts carry `cycle`)."
    )
    attempts: list[AttemptOut]
    created_at: datetime
    updated_at: datetime
    error: str | None
    #: Sent with a test key: it went to the sandbox fakes, never to a real provider.
    test: bool = False
    #: What the providers reported after accepting it (delivered, bounced…), oldest first.
    events: list[EventOut] = []

    @classmethod
    def from_view(cls, view: EmailView) -> EmailOut:
        envelope = view.envelope or Envelope.single(view.to_email, view.to_name)
        return cls(
            email_id=view.email_id,
            status=view.status,
            to=view.to_email,
            to_name=view.to_name,
            recipients=RecipientsOut(
                to=_addresses(envelope.to), cc=_addresses(envelope.cc),
                bcc=_addresses(envelope.bcc),
            ),
            reply_to=_addresses(envelope.reply_to),
            **{"from": AddressOut(email=view.sender_email, name=view.sender_name)
               if view.sender_email else None},
            attachments=[
                AttachmentOut(filename=item.filename, content_type=item.content_type,
                              size=item.size, content_id=item.content_id)
                for item in envelope.attachments
            ],
            tags=list(envelope.tags),
            metadata=dict(envelope.metadata),
            subject=view.subject,
            provider=view.provider,
            provider_message_id=view.provider_message_id,
            attempt_count=view.attempt_count,
            retries=view.retries,
            attempts=[
                AttemptOut(
                    attempt=a.attempt_number,
                    cycle=a.cycle,
                    provider=a.provider,
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    outcome=a.outcome,
                    status_code=a.status_code,
                    error=a.error,
                )
                for a in view.attempts
            ],
            created_at=view.created_at,
            updated_at=view.updated_at,
            error=view.error,
            test=view.test,
            events=[
                EventOut(type=EventType(event.type), at=event.at, provider=event.provider,
                         detail=event.detail, recipient=event.recipient,
                         bounce=BounceKind(event.bounce) if event.bounce else None)
                for event in view.events
            ],
        )


class EmailSummaryOut(CamelModel):
    """One line of ``GET /emails``: an email without its attempts."""

    email_id: str
    status: Status
    to: str
    subject: str
    provider: str | None
    attempt_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_view(cls, view: EmailView) -> EmailSummaryOut:
        return cls(
            email_id=view.email_id, status=view.status, to=view.to_email,
            subject=view.subject, provider=view.provider, attempt_count=view.attempt_count,
            created_at=view.created_at, updated_at=view.updated_at,
        )


class ProviderOut(CamelModel):
    name: str
    kind: str
    score: float
    base_score: float
    health: float
    last_error: float | None

    @classmethod
    def from_score(cls, score: ProviderScore) -> ProviderOut:
        return cls(
            name=score.name,
            kind=score.kind,
            score=round(score.score, 4),
            base_score=score.base_score,
            health=round(score.health, 6),
            last_error=score.last_error,
        )


class ScoreSampleOut(CamelModel):
    at: float = Field(description="Unix time of the sample, in seconds.")
    scores: dict[str, float] = Field(description="Provider name → score at that time.")


class ScoreHistoryOut(CamelModel):
    interval_seconds: float = Field(description="Seconds between two samples.")
    started_at: float = Field(description="Unix time this API process started sampling.")
    providers: list[str] = Field(description="Configured providers, most preferred first.")
    samples: list[ScoreSampleOut] = Field(description="Oldest first.")


class PreviewIn(BaseModel):
    content: str = Field(max_length=MAX_CONTENT_BYTES, description="Markdown.")


class PreviewOut(BaseModel):
    html: str = Field(description="The HTML document the email would carry; raw HTML escaped.")
    text: str = Field(description="The plain-text alternative.")


class OutageIn(BaseModel):
    outage: bool = Field(description="true: the fake fails every request with 503; false: heal.")


class SandboxProviderOut(CamelModel):
    name: str
    outage: bool = Field(description="Every request to this fake fails (failRate 1).")
    fail_rate: float
    accepted: int
    rejected: int


class SandboxOut(CamelModel):
    enabled: bool = Field(description="Sandbox mode: no credentials, fake providers.")
    url: str | None = Field(description="The fake providers' base URL, in sandbox mode.")
    providers: list[SandboxProviderOut]


class SandboxMessageOut(CamelModel):
    message_id: str
    to: str
    to_name: str | None
    subject: str | None
    received_at: datetime


class LivenessOut(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessOut(BaseModel):
    status: Literal["ready", "unavailable"]
    store: str
    broker: str


__all__ = [
    "AttemptOut",
    "BatchAccepted",
    "BatchItemAccepted",
    "BatchItemRefused",
    "EmailAccepted",
    "EmailOut",
    "EmailSummaryOut",
    "ErrorBody",
    "ErrorDetail",
    "LivenessOut",
    "NotFoundBody",
    "OutageIn",
    "PreviewIn",
    "PreviewOut",
    "ProviderOut",
    "ReadinessOut",
    "SandboxMessageOut",
    "SandboxOut",
    "SandboxProviderOut",
    "ScoreHistoryOut",
    "ScoreSampleOut",
]
