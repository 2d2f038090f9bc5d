"""The audit log's events: who did what, when and from where; never content or secrets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AuditKind(StrEnum):
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    EMAIL_ACCEPTED = "email.accepted"
    #: A failed email queued again by hand (``POST /email/{id}/retry``).
    EMAIL_RETRIED = "email.retried"
    #: One refused authentication, recorded as it happened.
    AUTH_REFUSED = "auth.refused"
    #: How many more refused authentications a minute held than were recorded one by one.
    AUTH_REFUSED_UNSAMPLED = "auth.refused.unsampled"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    kind: str
    #: The API key's name (``None``: authentication off, or no valid key).
    key_name: str | None = None
    project: str | None = None
    #: The client's address, through trusted proxies.
    client: str | None = None
    email_id: str | None = None
    idempotency_key: str | None = None
    #: A short sentence: why an authentication was refused, how many were not recorded…
    detail: str | None = None

    def to_json(self) -> dict[str, object]:
        """The event as ``micromailer audit --json`` prints it, in camelCase."""
        return {
            "at": self.at.isoformat(), "kind": self.kind, "keyName": self.key_name,
            "project": self.project, "client": self.client, "emailId": self.email_id,
            "idempotencyKey": self.idempotency_key, "detail": self.detail,
        }


__all__ = ["AuditEvent", "AuditKind"]
