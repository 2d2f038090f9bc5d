"""A client's callback endpoint on loopback: it records every request and answers as scripted.

``CallbackReceiver(fail_first=3)`` answers ``500`` to the first three requests and ``200``
after; ``CallbackReceiver(fail_first=None)`` never recovers. With ``tls`` (a ``trustme`` CA's
server context) it speaks HTTPS.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.http_server import ServedInThread


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request as the receiver got it, and what it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    #: ``time.monotonic()`` when it arrived.
    at: float
    answered: int


class CallbackReceiver(ServedInThread):
    """``with CallbackReceiver(fail_first=2) as receiver:`` … ``receiver.url``."""

    def __init__(
        self, *, fail_first: int | None = 0, fail_status: int = 500, fail_body: bytes = b"",
        redirect_to: str | None = None, tls: ssl.SSLContext | None = None,
    ) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.fail_body = fail_body
        self.redirect_to = redirect_to
        self._arrivals: list[Arrival] = []
        self._lock = threading.Condition()
        ServedInThread.__init__(self, self._handler(), "callback-receiver", tls=tls)

    @property
    def url(self) -> str:
        return f"{self.origin}/hooks/email"

    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def wait_for(self, count: int, timeout: float) -> list[Arrival]:
        """The arrivals once there are ``count`` of them; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._arrivals) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self._arrivals)} callback(s) arrived in {timeout:g} s, "
                        f"not {count}"
                    )
                self._lock.wait(left)
            return list(self._arrivals)

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            n = len(self._arrivals)
            if self.redirect_to is not None:
                status = 302
            elif self.fail_first is None or n < self.fail_first:
                status = self.fail_status
            else:
                status = 200
            self._arrivals.append(Arrival(path, headers, body, time.monotonic(), status))
            self._lock.notify_all()
            return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = receiver._answer(self.path, headers, body)
                answer = receiver.fail_body if status >= 400 else b"ok"
                self.send_response(status)
                if status == 302 and receiver.redirect_to is not None:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


__all__ = ["Arrival", "CallbackReceiver"]
