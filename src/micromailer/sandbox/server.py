"""Serving the sandbox: blocking (``micromailer sandbox``) or in a background thread (tests)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import uvicorn

from micromailer.config import DEFAULT_SANDBOX_EVENTS_DELAY
from micromailer.sandbox.app import close_sandbox_events, create_sandbox_app
from micromailer.sandbox.event_sender import EventSender
from micromailer.sandbox.smtp_server import SmtpFakeServer, start_sandbox_smtp
from micromailer.security.hosts import HostPolicy

log = logging.getLogger(__name__)


def run_sandbox(
    host: str,
    port: int,
    api_keys: dict[str, str] | None = None,
    seed: int | None = None,
    *,
    faults: Mapping[str, Any] | None = None,
    allowed_hosts: Sequence[str] = (),
    log_level: str = "info",
    log_config: dict[str, Any] | None = None,
    smtp_port: int = 0,
    events_url: str | None = None,
    events_delay: float = DEFAULT_SANDBOX_EVENTS_DELAY,
) -> None:
    """Serve the sandbox until interrupted (Ctrl-C / SIGTERM). See :func:`create_sandbox_app`;
    it answers the localhost names, ``host`` and the ``allowed_hosts`` (normalised entries of
    :func:`~micromailer.security.hosts.parse_host_patterns`). ``log_config``: uvicorn's logging
    (``logs.logging_config``); ``None`` leaves the process's as it is. The SMTP fake listens
    on ``host:smtp_port`` (``0``: a free port), advertised at ``GET /_sandbox/smtp/server``.
    With ``events_url`` (the service's origin) the fakes send their events back there,
    ``events_delay`` seconds after accepting a message (docs/sandbox.md)."""
    hosts = HostPolicy.local(host, extra=allowed_hosts)
    app = create_sandbox_app(api_keys, seed, faults=faults, hosts=hosts,
                             events=_event_sender(events_url, events_delay))
    smtp = start_sandbox_smtp(app, host, smtp_port)
    if smtp.endpoint is not None:
        log.info("SMTP fake on %s:%d (STARTTLS: %s)", smtp.endpoint.host, smtp.endpoint.port,
                 "yes" if smtp.endpoint.starttls else "no: cryptography is not installed")
    if events_url:
        log.info("sandbox events go to %s/webhooks/<provider>, %g s after acceptance",
                 events_url.rstrip("/"), events_delay)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=log_config)
    finally:
        smtp.stop()
        close_sandbox_events(app)


def _event_sender(url: str | None, delay: float) -> EventSender | None:
    return EventSender(url, delay=delay) if url else None


class SandboxThread:
    """The sandbox on a free loopback port, in a daemon thread.

    ::

        with SandboxThread(api_keys={"sendgrid": "k"}) as sandbox:
            httpx.get(f"{sandbox.url}/_sandbox/sendgrid/stats")

    or ``sandbox = SandboxThread().start()`` … ``sandbox.stop()``. ``port=0`` picks a free
    port; ``.url`` is ``http://127.0.0.1:<port>`` once started. The SMTP fake runs beside it
    on a free port (``.smtp``), advertised at ``GET /_sandbox/smtp/server``. With
    ``events_url`` the fakes send their events back to the service there (see
    :func:`run_sandbox`); :meth:`stop` stops them.
    """

    def __init__(
        self,
        api_keys: dict[str, str] | None = None,
        seed: int | None = None,
        *,
        faults: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        events_url: str | None = None,
        events_delay: float = DEFAULT_SANDBOX_EVENTS_DELAY,
    ) -> None:
        self.app = create_sandbox_app(api_keys, seed, faults=faults,
                                      hosts=HostPolicy.local(host),
                                      events=_event_sender(events_url, events_delay))
        self.host = host
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self.smtp: SmtpFakeServer | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxThread:
        """Bind, serve in the background, and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the sandbox is already started")
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
        # protocol says TCP, and without it every answer stalls ~40 ms on delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="micromailer-sandbox", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the sandbox did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self.smtp = start_sandbox_smtp(self.app, self.host)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down; requests still sleeping on injected latency are cut short,
        events not yet sent are dropped."""
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout / 2)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout / 2)
        self._server = self._thread = None
        close_sandbox_events(self.app)  # lifespan="off": the app's own shutdown does not run

    def __enter__(self) -> SandboxThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["SandboxThread", "run_sandbox"]
