"""The sandbox fakes inside a worker, for test emails when no ``MICROMAILER_SANDBOX_URL`` is set.

Started on first use, on a free loopback port, in a thread of this process
(:class:`~micromailer.sandbox.server.SandboxThread`): a worker with real credentials and no
test traffic never opens the port. Each fake accepts only ``SANDBOX_API_KEY``.
"""

from __future__ import annotations

import logging
import threading

from micromailer.config import SANDBOX_API_KEY
from micromailer.sandbox.app import PROVIDERS
from micromailer.sandbox.server import SandboxThread

log = logging.getLogger(__name__)


class LocalSandbox:
    """A :class:`~micromailer.delivery.sandbox_route.SandboxLocator` that starts the fakes in
    this process the first time their URL is asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: SandboxThread | None = None

    def url(self) -> str:
        with self._lock:
            if self._thread is None:
                keys = dict.fromkeys(PROVIDERS, SANDBOX_API_KEY)
                self._thread = SandboxThread(api_keys=keys).start()
                log.info("started the sandbox fakes for test emails at %s", self._thread.url)
            return self._thread.url

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._thread.stop()
                self._thread = None


__all__ = ["LocalSandbox"]
