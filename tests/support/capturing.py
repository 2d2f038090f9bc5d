"""An HTTP server that stands for a real provider: it records every request it gets.

Point a provider's base URL at it (``MICROMAILER_SENDGRID_BASE_URL``) to prove that some
traffic never reaches that provider: :attr:`CapturingServer.requests` must stay empty. It
answers every request ``202`` with an ``X-Message-Id``, as SendGrid accepts a message, so a
live email through it is plainly ``sent`` (the proof that the server is wired at all).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.http_server import ServedInThread


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    method: str
    path: str
    body: bytes


class CapturingServer(ServedInThread):
    """``with CapturingServer() as server:`` … ``server.url``, ``server.requests``."""

    def __init__(self) -> None:
        self.requests: list[CapturedRequest] = []
        self._lock = threading.Lock()
        ServedInThread.__init__(self, self._handler(), "capturing-server")

    @property
    def url(self) -> str:
        return self.origin

    def received(self) -> list[CapturedRequest]:
        with self._lock:
            return list(self.requests)

    def _record(self, request: CapturedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        record = self._record

        class Handler(BaseHTTPRequestHandler):
            def _capture(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                record(CapturedRequest(self.command, self.path, self.rfile.read(length)))
                self.send_response(202)
                self.send_header("X-Message-Id", "captured")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_DELETE = _capture

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


__all__ = ["CapturedRequest", "CapturingServer"]
