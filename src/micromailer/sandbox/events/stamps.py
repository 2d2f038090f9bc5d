"""What the fakes' signers share: ids that are the same each time an event is built, and the
providers' ways of writing a time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from micromailer.sandbox.events import SandboxEvent


def stable_id(*parts: object, length: int = 32) -> str:
    """A hex id made of ``parts``: the same event always gets the same id, as a provider's
    resend does."""
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def event_id(provider: str, event: SandboxEvent, length: int = 32) -> str:
    """The id of one sandbox event, from everything that tells it apart."""
    return stable_id(provider, event.message_id, event.type, event.recipient,
                     event.at.isoformat(), length=length)


def iso_millis(moment: datetime) -> str:
    """``2017-08-05T00:41:02.669Z``, as SNS, SES and Resend write times."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def one_kind(events: list[SandboxEvent], provider: str) -> SandboxEvent:
    """The first of ``events`` once they can travel as one record: the same type, bounce and
    message (only their recipients differ); ``ValueError`` otherwise."""
    if not events:
        raise ValueError(f"{provider} sends at least one event a request")
    first = events[0]
    if any((event.type, event.bounce, event.message_id) != (first.type, first.bounce,
                                                            first.message_id) for event in events):
        raise ValueError(f"{provider} sends one event (one type, one message) a request: "
                         "build one request for each")
    return first


__all__ = ["event_id", "iso_millis", "one_kind", "stable_id"]
