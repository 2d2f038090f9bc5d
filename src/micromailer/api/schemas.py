"""Response bodies, camelCase on the wire as the original API had them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from micromailer.domain.attempt import EmailView
from micromailer.health.snapshots import ProviderScore


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EmailAccepted(CamelModel):
    status: Literal["queued"] = "queued"
    email_id: str


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
    provider: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    status_code: int | None
    error: str | None


class EmailOut(CamelModel):
    email_id: str
    status: str
    to: str
    to_name: str | None
    subject: str
    provider: str | None
    provider_message_id: str | None
    attempt_count: int
    attempts: list[AttemptOut]
    created_at: datetime
    updated_at: datetime
    error: str | None

    @classmethod
    def from_view(cls, view: EmailView) -> EmailOut:
        return cls(
            email_id=view.email_id,
            status=view.status.value,
            to=view.to_email,
            to_name=view.to_name,
            subject=view.subject,
            provider=view.provider,
            provider_message_id=view.provider_message_id,
            attempt_count=view.attempt_count,
            attempts=[
                AttemptOut(
                    attempt=a.attempt_number,
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


class ReadinessOut(BaseModel):
    status: Literal["ready", "unavailable"]
    store: str
    broker: str


__all__ = [
    "AttemptOut",
    "EmailAccepted",
    "EmailOut",
    "ErrorBody",
    "ErrorDetail",
    "NotFoundBody",
    "ProviderOut",
    "ReadinessOut",
]
