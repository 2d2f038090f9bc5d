"""Request and response bodies of ``/callbacks``, camelCase on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from micromailer.api.schemas import CamelModel
from micromailer.callbacks.events import ALL_EVENTS, CALLBACK_EVENTS
from micromailer.callbacks.urls import MAX_URL_LENGTH
from micromailer.store.callbacks import CallbackView, DeliveryView

_EVENTS_DESCRIPTION = (
    f"The events to be told of: any of `{'`, `'.join(CALLBACK_EVENTS)}`, or `{ALL_EVENTS}` for "
    "all of them (those added later included)."
)


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1, max_length=MAX_URL_LENGTH,
        description="Where each event is POSTed: an absolute https:// (or http://) URL without "
                    "a user name or password, whose host is, and resolves to, public "
                    "addresses only (docs/callbacks.md); checked again before every try.",
        examples=["https://app.example.com/hooks/email"],
        json_schema_extra={"format": "uri", "pattern": "^[hH][tT][tT][pP][sS]?://"},
    )
    # Checked by ``parse_events``, whose sentence names the events; the document lists them.
    events: list[Annotated[str, Field(max_length=32, json_schema_extra={
        "enum": [*CALLBACK_EVENTS, ALL_EVENTS]})]] = Field(
        min_length=1, max_length=len(CALLBACK_EVENTS) + 1,
        description=_EVENTS_DESCRIPTION, examples=[["delivered", "bounced", "complained"]],
    )


class CallbackOut(CamelModel):
    id: str
    url: str
    events: list[str] = Field(description=_EVENTS_DESCRIPTION)
    created_at: datetime

    @classmethod
    def from_view(cls, view: CallbackView) -> CallbackOut:
        return cls(id=view.id, url=view.url, events=list(view.events),
                   created_at=view.created_at)


class CallbackCreated(CallbackOut):
    secret: str = Field(
        description="The signing secret (`whsec_` and base64), shown this once: keep it to "
                    "verify each delivery's `webhook-signature` (Standard Webhooks).",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )

    @classmethod
    def from_new(cls, view: CallbackView, secret: str) -> CallbackCreated:
        return cls(id=view.id, url=view.url, events=list(view.events),
                   created_at=view.created_at, secret=secret)


class CallbackDeliveryOut(CamelModel):
    id: str = Field(description="The `webhook-id` header: the same on every try of it.")
    event: str
    email_id: str | None
    status: Literal["pending", "delivered", "failed"] = Field(
        description="`pending` until the receiver answers 2xx (`delivered`) or the retry "
                    "schedule is over (`failed`).")
    attempts: int = Field(description="Tries made so far.")
    last_status_code: int | None = Field(description="The receiver's status on the last try; "
                                                     "null if it did not answer.")
    last_error: str | None = Field(description="Why the last try failed, in short.")
    next_at: datetime | None = Field(description="When the next try is due, while pending.")
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_view(cls, view: DeliveryView) -> CallbackDeliveryOut:
        return cls(
            id=view.id, event=view.event, email_id=view.email_id,
            status=view.status,  # type: ignore[arg-type]  # the column holds only these
            attempts=view.attempts, last_status_code=view.last_status_code,
            last_error=view.last_error, next_at=view.next_at, created_at=view.created_at,
            delivered_at=view.delivered_at,
        )


class CallbackNotFoundBody(CamelModel):
    status: Literal["notfound"] = "notfound"
    callback_id: str


__all__ = [
    "CallbackCreated",
    "CallbackDeliveryOut",
    "CallbackIn",
    "CallbackNotFoundBody",
    "CallbackOut",
]
