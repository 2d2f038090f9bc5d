"""Test emails' way out: adapters at the sandbox fakes, with a health board of their own.

An email sent with a test key (``Message.test``) never reaches a real provider, whatever
credentials are set. The delivery service hands it to a :class:`SandboxRoute`, whose
dispatcher carries test emails only (``Dispatcher(test_traffic=True)``), holds one adapter per
configured provider pointed at the fakes, and learns on a board no API, CLI or metric reads.
The dispatcher is built on the first test email, so a worker that never sees one starts
nothing; where the fakes are is the locator's business: at ``MICROMAILER_SANDBOX_URL``
(:class:`FixedSandbox`), or started in this process (:class:`LocalSandbox`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from micromailer.config import DEFAULT_SANDBOX_EVENTS_DELAY, SANDBOX_API_KEY
from micromailer.domain.message import Message

from .dispatcher import Dispatcher
from .verdict import AttemptReport, RetryLater

log = logging.getLogger(__name__)

#: Builds the test emails' dispatcher for the fakes at an origin (``http://host:port``).
BuildDispatcher = Callable[[str], Dispatcher]


class SandboxLocator(Protocol):
    """Where the sandbox fakes are."""

    def url(self) -> str:
        """The fakes' origin; may start them, blocking meanwhile."""
        ...

    def close(self) -> None: ...


class FixedSandbox:
    """Fakes that run elsewhere, at a known origin (``MICROMAILER_SANDBOX_URL``)."""

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/")

    def url(self) -> str:
        return self._url

    def close(self) -> None:
        pass


class LocalSandbox:
    """The fakes in this process, started the first time their URL is asked for: on a free
    loopback port, in a thread of their own (``sandbox/server.py``'s ``SandboxThread``),
    accepting only ``SANDBOX_API_KEY``. The web stack they need is imported then too, so a
    worker with real credentials and no test traffic never loads it nor opens the port.
    With ``events_url`` (``MICROMAILER_SANDBOX_EVENTS_URL``: the API's origin) they send their
    events back to the service there, ``events_delay`` seconds after accepting a message."""

    def __init__(
        self, events_url: str | None = None, events_delay: float = DEFAULT_SANDBOX_EVENTS_DELAY
    ) -> None:
        self._lock = threading.Lock()
        self._stop: Callable[[], None] | None = None
        self._url: str | None = None
        self._events_url = events_url
        self._events_delay = events_delay

    def url(self) -> str:
        with self._lock:
            if self._url is None:
                from micromailer.sandbox import PROVIDERS, SandboxThread

                thread = SandboxThread(
                    api_keys=dict.fromkeys(PROVIDERS, SANDBOX_API_KEY),
                    events_url=self._events_url, events_delay=self._events_delay,
                ).start()
                self._url, self._stop = thread.url, thread.stop
                log.info("started the sandbox fakes for test emails at %s", self._url)
            return self._url

    def close(self) -> None:
        with self._lock:
            if self._stop is not None:
                self._stop()
            self._stop = self._url = None


class SandboxRoute:
    """Sends test emails through the sandbox; a :class:`~.dispatcher.Dispatch`."""

    def __init__(self, locator: SandboxLocator, build: BuildDispatcher) -> None:
        self._locator = locator
        self._build = build
        self._lock = threading.Lock()
        self._dispatcher: Dispatcher | None = None

    def dispatcher(self) -> Dispatcher:
        """The test emails' dispatcher, built (and the fakes located) on the first call."""
        with self._lock:
            if self._dispatcher is None:
                url = self._locator.url()
                self._dispatcher = self._build(url)
                log.info("test emails go to the sandbox fakes at %s", url)
            return self._dispatcher

    async def attempt_async(self, message: Message) -> AttemptReport:
        """One attempt through the fakes; if they cannot be reached at all, a retry later."""
        dispatcher = self._dispatcher
        if dispatcher is None:  # locating may start the fakes: off the event loop
            try:
                dispatcher = await asyncio.get_running_loop().run_in_executor(
                    None, self.dispatcher
                )
            except Exception as exc:
                log.error("the sandbox for test emails is unavailable", exc_info=exc)
                return AttemptReport([], RetryLater(f"the sandbox for test emails is "
                                                    f"unavailable: {exc}"))
        return await dispatcher.attempt_async(message)

    def close(self) -> None:
        """Close the dispatcher, then stop fakes this process started."""
        with self._lock:
            if self._dispatcher is not None:
                self._dispatcher.close()
            self._locator.close()


__all__ = ["BuildDispatcher", "FixedSandbox", "LocalSandbox", "SandboxLocator", "SandboxRoute"]
