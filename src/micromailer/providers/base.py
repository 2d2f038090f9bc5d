"""The adapter base: it owns the steps of a send (build → call → classify → parse).

A provider module fills three hooks: ``build_request``, ``raise_for_error`` (optional; the
default maps HTTP statuses) and ``parse_success``. Adapters never retry, sleep, touch the
store or read settings: failover and retries live in ``delivery/`` and ``queue/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, cast

import httpx

from micromailer.domain.message import Message
from micromailer.providers.errors import (
    AuthError,
    NetworkError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.http import AsyncHttpSender, HttpSender


@dataclass(frozen=True, slots=True)
class SendResult:
    """A provider accepted the message."""

    provider: str
    message_id: str | None
    raw: Any = field(default=None, repr=False)


class ProviderAdapter(ABC):
    """One email provider's HTTP API."""

    #: The provider's kind, e.g. ``"sendgrid"``; also the default name.
    kind: ClassVar[str]

    def __init__(
        self, *, api_key: str, base_url: str, client: HttpSender | AsyncHttpSender,
        name: str | None = None,
    ) -> None:
        self.name = name or self.kind
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._client = client

    def __repr__(self) -> str:  # never show the key
        return f"<{type(self).__name__} {self.name} {self.base_url}>"

    def send(self, message: Message) -> SendResult:
        """Send one message; raise a :class:`~micromailer.providers.errors.ProviderError` if not.

        Needs a blocking client (``httpx.Client``)."""
        request = self.build_request(message)
        with self._map_transport_errors():
            response = cast(HttpSender, self._client).send(request)
        return self.read_response(response)

    async def send_async(self, message: Message) -> SendResult:
        """:meth:`send` on an event loop; needs an :class:`AsyncHttpSender`."""
        request = self.build_request(message)
        with self._map_transport_errors():
            response = await cast(AsyncHttpSender, self._client).send(request)
        return self.read_response(response)

    def read_response(self, response: httpx.Response) -> SendResult:
        """The result a provider's answer means, or the error it means, raised."""
        if response.is_success:
            return self.parse_success(response)
        self.raise_for_error(response)
        raise ServerError(self.name, "unexpected answer", status_code=response.status_code)

    # -- hooks -----------------------------------------------------------------------------

    @abstractmethod
    def build_request(self, message: Message) -> httpx.Request:
        """The HTTP request that sends ``message``."""

    @abstractmethod
    def parse_success(self, response: httpx.Response) -> SendResult:
        """Read a 2xx answer; raise if it hides a failure (e.g. a rejected recipient)."""

    def raise_for_error(self, response: httpx.Response) -> None:
        """Raise the error that a non-2xx answer means. Override for provider quirks."""
        raise_for_http_status(self.name, response, self.error_reason(response))

    def error_reason(self, response: httpx.Response) -> str:
        """A short human reason read from an error answer's body."""
        return response.reason_phrase or "error"

    # -- helpers ---------------------------------------------------------------------------

    @contextmanager
    def _map_transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException as exc:
            raise NetworkError(self.name, f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise NetworkError(self.name, f"network error ({type(exc).__name__}: {exc})") from exc


def raise_for_http_status(provider: str, response: httpx.Response, reason: str) -> None:
    """Map an HTTP error status onto the taxonomy (the rule every provider shares)."""
    status = response.status_code
    body = response.text
    if status in (401, 403):
        raise AuthError(provider, reason, status_code=status, body=body)
    if status == 429:
        retry_after = retry_after_seconds(response)
        raise RateLimitedError(
            provider, reason, status_code=status, body=body, retry_after=retry_after
        )
    if status >= 500 or status in (408, 409, 425):
        raise ServerError(provider, reason, status_code=status, body=body)
    raise RequestRejectedError(provider, reason, status_code=status, body=body)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Read ``Retry-After`` (seconds or an HTTP date); ``None`` when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date_header = response.headers.get("date")
    now = parsedate_to_datetime(date_header) if date_header else None
    if now is None:
        now = datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


__all__ = ["ProviderAdapter", "SendResult", "raise_for_http_status", "retry_after_seconds"]
