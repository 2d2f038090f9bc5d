"""The adapter base: it owns the steps of a send (build → call → classify → parse).

A provider module fills the hooks ``build_request`` and ``parse_success`` and one table,
``status_classes`` (every error status it documents → the error class it means);
``raise_for_error`` is overridden only where a provider classifies by more than the status.
Adapters never retry, sleep, touch the store or read settings: failover and retries live in
``delivery/`` and ``queue/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, cast

import httpx

from micromailer.domain.message import Message
from micromailer.providers.capabilities import MIB, Capabilities
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    NetworkError,
    ProviderError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.http import AsyncHttpSender, HttpSender

#: HTTP error status → the error class it means.
StatusClasses = Mapping[int, type[ProviderError]]

#: What a status means when a provider's own table does not list it: HTTP's general meaning.
#: Any other 5xx is a :class:`ServerError`, any other 4xx a :class:`RequestRejectedError`.
HTTP_STATUS_CLASSES: StatusClasses = {
    401: AuthError,
    402: AccountError,
    403: AuthError,
    408: ServerError,
    409: ServerError,
    425: ServerError,
    429: RateLimitedError,
}


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
    #: Every error status the provider documents for its send call → the error it means;
    #: a status not listed takes its general HTTP meaning (:func:`status_class`).
    status_classes: ClassVar[StatusClasses] = {}
    #: What one message may hold to be sent through this provider (its documented limits).
    capabilities: ClassVar[Capabilities] = Capabilities(max_recipients=1, max_bytes=10 * MIB)
    #: Rate-limit headers that say when sending may resume, read when ``Retry-After`` is
    #: absent: seconds to wait, or a Unix time (:func:`retry_after_seconds`).
    reset_headers: ClassVar[tuple[str, ...]] = ()
    #: Whether the provider has a test mode: a request checked and answered as a send would
    #: be, that sends nothing (what a synthetic probe uses, ``delivery/probes.py``).
    has_test_mode: ClassVar[bool] = False

    def __init__(
        self, *, api_key: str, base_url: str, client: HttpSender | AsyncHttpSender,
        name: str | None = None, options: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name or self.kind
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._client = client
        #: Provider settings besides the key (``Settings.provider_options``): a domain, a
        #: region, a CA file.
        self.options: Mapping[str, str] = dict(options or {})

    def __repr__(self) -> str:  # never show the key
        return f"<{type(self).__name__} {self.name} {self.base_url}>"

    def send(self, message: Message) -> SendResult:
        """Send one message; raise a :class:`~micromailer.providers.errors.ProviderError` if not.

        Needs a blocking client (``httpx.Client``)."""
        return self._send_blocking(self.build_request(message))

    async def send_async(self, message: Message) -> SendResult:
        """:meth:`send` on an event loop; needs an :class:`AsyncHttpSender`."""
        request = self.build_request(message)
        with self._map_transport_errors():
            response = await cast(AsyncHttpSender, self._client).send(request)
        return self.read_response(response)

    def probe(self, message: Message) -> SendResult:
        """Send ``message`` in the provider's test mode: answered as a send, delivered to
        nobody. Raises like :meth:`send`; needs a blocking client."""
        return self._send_blocking(self.build_probe_request(message))

    def _send_blocking(self, request: httpx.Request) -> SendResult:
        with self._map_transport_errors():
            response = cast(HttpSender, self._client).send(request)
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

    def build_probe_request(self, message: Message) -> httpx.Request:
        """The request that sends ``message`` in test mode; only where :attr:`has_test_mode`."""
        raise NotImplementedError(f"{self.kind} has no test mode")

    @abstractmethod
    def parse_success(self, response: httpx.Response) -> SendResult:
        """Read a 2xx answer; raise if it hides a failure (e.g. a rejected recipient)."""

    def raise_for_error(self, response: httpx.Response) -> None:
        """Raise the error that a non-2xx answer means, by :attr:`status_classes`."""
        error_class = status_class(self.status_classes, response.status_code)
        raise provider_error(
            error_class, self.name, self.error_reason(response), response, self.reset_headers
        )

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


def status_class(table: StatusClasses, status: int) -> type[ProviderError]:
    """The class ``table`` gives ``status``, else :data:`HTTP_STATUS_CLASSES`'s, else the
    status class's (5xx: may pass; 4xx: about the request)."""
    listed = table.get(status) or HTTP_STATUS_CLASSES.get(status)
    if listed is not None:
        return listed
    return ServerError if status >= 500 else RequestRejectedError


def provider_error(
    error_class: type[ProviderError], provider: str, reason: str, response: httpx.Response,
    reset_headers: tuple[str, ...] = (),
) -> ProviderError:
    """An ``error_class`` about ``response``; a rate limit carries the wait it asked for."""
    if issubclass(error_class, RateLimitedError):
        return error_class(
            provider, reason, status_code=response.status_code, body=response.text,
            retry_after=retry_after_seconds(response, reset_headers),
        )
    return error_class(provider, reason, status_code=response.status_code, body=response.text)


#: A reset header's value above this is a Unix time, not a number of seconds to wait.
UNIX_TIME_THRESHOLD = 1_000_000_000


def retry_after_seconds(
    response: httpx.Response, reset_headers: tuple[str, ...] = ()
) -> float | None:
    """Read ``Retry-After`` (seconds or an HTTP date), else the first of ``reset_headers``
    (seconds, or a Unix time); ``None`` when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return _reset_seconds(response, reset_headers)
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


def _reset_seconds(response: httpx.Response, reset_headers: tuple[str, ...]) -> float | None:
    for name in reset_headers:
        value = response.headers.get(name)
        if not value:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds > UNIX_TIME_THRESHOLD:
            seconds -= datetime.now(UTC).timestamp()
        return max(0.0, seconds)
    return None


__all__ = [
    "HTTP_STATUS_CLASSES",
    "ProviderAdapter",
    "SendResult",
    "StatusClasses",
    "provider_error",
    "retry_after_seconds",
    "status_class",
]
