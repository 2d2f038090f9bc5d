"""What every provider's webhook module provides: a check that a request really comes from the
provider, and its events in micromailer's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import parse_qsl

from micromailer.domain.events import ProviderEvent

#: How old a signed timestamp may be, in seconds, before the request counts as a replay.
REPLAY_WINDOW_SECONDS = 300.0


class Unverified(Exception):
    """The request failed its provider's authenticity check; ``str(error)`` says why (for the
    log: the client gets a plain 401)."""


class Malformed(Exception):
    """The request passed the check, but its body is not the provider's documented format."""


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One request to ``POST /webhooks/{provider}``, as received."""

    #: The full URL the provider called (scheme, host, path and query), as some sign it.
    url: str
    #: Header names in lower case.
    headers: Mapping[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The body as an urlencoded form (the last value of a repeated field)."""
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


class WebhookScheme(Protocol):
    """One provider's webhook, built from its settings (its secret, key or credentials)."""

    provider: str

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        """The request's events, once it is verified; raises :class:`Unverified` when it is not
        the provider's (or is a replay), :class:`Malformed` when its body cannot be read.

        May block (fetching a certificate, confirming a subscription): it runs in a thread."""
        ...


__all__ = ["REPLAY_WINDOW_SECONDS", "Malformed", "Unverified", "WebhookRequest", "WebhookScheme"]
