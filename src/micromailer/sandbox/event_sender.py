"""The sandbox fakes' events on their way back to the service, as the real providers send them.

A fake hands each accepted message to :class:`EventSender`, which plans its events and
returns at once; one thread of its own signs each event when due (``SIGNERS``) and POSTs it
to ``<url>/webhooks/<provider>``. Bounded, retried on connection errors and 5xx, and never
able to block or fail a send (docs/sandbox.md).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from micromailer.config import DEFAULT_SANDBOX_EVENTS_DELAY
from micromailer.sandbox.capture import CapturedMessage, Clock, SentEvent, utc_now
from micromailer.sandbox.event_plan import PlannedEvent, planned_events
from micromailer.sandbox.events import SIGNERS, Signer

log = logging.getLogger(__name__)

#: Events waiting to be sent, at most.
DEFAULT_CAPACITY = 10_000
#: Tries of one event: the first and three retries.
DEFAULT_ATTEMPTS = 4
#: Seconds before the first retry; each further one waits twice as long.
DEFAULT_BACKOFF = 0.5
#: Seconds for one POST to the webhook, connecting included.
DEFAULT_TIMEOUT = 5.0


@dataclass(order=True)
class _Due:
    """An event waiting for its time; ordered by due time, then by when it was planned."""

    at: float
    order: int
    provider: str = field(compare=False)
    signer: Signer = field(compare=False)
    event: PlannedEvent = field(compare=False)
    report: Callable[[SentEvent], None] = field(compare=False)


class EventSender:
    """Sends the fakes' events to the service at ``url`` (an origin such as
    ``http://127.0.0.1:8000``) from a thread started with the first event."""

    def __init__(
        self,
        url: str,
        *,
        delay: float = DEFAULT_SANDBOX_EVENTS_DELAY,
        capacity: int = DEFAULT_CAPACITY,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT,
        signers: Mapping[str, Signer] = SIGNERS,
        clock: Clock = utc_now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.delay = delay
        self._capacity = capacity
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._timeout = timeout
        self._signers = signers
        self._clock = clock
        self._transport = transport
        self._due: list[_Due] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        #: Events dropped because the queue was full.
        self.dropped = 0

    def webhook_url(self, provider: str) -> str:
        """Where ``provider``'s events go: the service's ``POST /webhooks/{provider}``."""
        return f"{self.url}/webhooks/{provider}"

    def schedule(
        self, provider: str, message: CapturedMessage, report: Callable[[SentEvent], None]
    ) -> None:
        """Plan ``message``'s events and return; ``report`` hears how each went, from the
        sender's thread. Nothing is planned for a provider without a signer."""
        signer = self._signers.get(provider)
        if signer is None:
            return
        events = planned_events(message, self.delay)
        if not events:
            return
        now = time.monotonic()
        with self._ready:
            if self._closing.is_set():
                return
            if len(self._due) + len(events) > self._capacity:
                self.dropped += len(events)
                log.warning("sandbox events queue full (%d): %s's events about message %s "
                            "dropped", self._capacity, provider, message.message_id)
                return
            for event in events:
                heapq.heappush(self._due, _Due(now + event.after, next(self._order),
                                               provider, signer, event, report))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="micromailer-sandbox-events", daemon=True
                )
                self._thread.start()
            self._ready.notify()

    def pending(self) -> int:
        """Events waiting to be sent."""
        with self._ready:
            return len(self._due)

    def close(self, timeout: float = DEFAULT_TIMEOUT + 1) -> None:
        """Stop sending: events still waiting are dropped, one being sent is let finish
        (up to ``timeout`` seconds), and the HTTP client is closed."""
        with self._ready:
            self._closing.set()
            waiting, self._due = len(self._due), []
            thread = self._thread
            self._ready.notify_all()
        if waiting:
            log.info("sandbox stopping: %d event(s) not sent", waiting)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout, transport=self._transport,
                          trust_env=False) as client:
            while (due := self._next()) is not None:
                try:
                    due.report(self._send(client, due))
                except Exception:  # a bug in one event must not stop the others
                    log.exception("sandbox event %s for %s not sent", due.event.type,
                                  due.provider)

    def _next(self) -> _Due | None:
        """The next event once it is due; ``None`` once the sender is closing."""
        with self._ready:
            while not self._closing.is_set():
                wait = self._due[0].at - time.monotonic() if self._due else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self._due)
                self._ready.wait(wait)
            return None

    def _send(self, client: httpx.Client, due: _Due) -> SentEvent:
        """Sign ``due`` and POST it, retrying connection errors and 5xx answers."""
        event = due.event
        now = self._clock()

        def outcome(status: int | None, tries: int, error: str | None) -> SentEvent:
            bounce = str(event.bounce) if event.bounce else None
            return SentEvent(str(event.type), now, status, tries, bounce, error)

        try:
            request = due.signer([event.happened(now)], self.webhook_url(due.provider), now)
        except Exception as exc:  # a signer's failure is reported, not raised
            log.exception("the %s sandbox signer failed", due.provider)
            return outcome(None, 0, f"signing failed: {type(exc).__name__}")
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self._attempts + 1):
            try:
                response = client.post(request.url, headers=request.headers,
                                       content=request.body)
            except httpx.TransportError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                error = None if status < 300 else f"HTTP {status}"
                if status < 500:
                    break
            if attempt == self._attempts or self._closing.wait(
                self._backoff * 2 ** (attempt - 1)
            ):
                break
        if error is not None:
            log.warning("sandbox %s event about message %s to %s: %s after %d tries",
                        event.type, event.message_id, self.webhook_url(due.provider), error,
                        attempt)
        return outcome(status, attempt, error)


__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_BACKOFF",
    "DEFAULT_CAPACITY",
    "DEFAULT_TIMEOUT",
    "EventSender",
]
