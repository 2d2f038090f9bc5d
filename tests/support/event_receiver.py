"""An HTTP server that stands for the service's webhook endpoint: it records every request
(path, headers, body) and answers from a script of statuses, the last one repeating."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.http_server import ServedInThread


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    path: str
    #: Header names in lower case.
    headers: dict[str, str]
    body: bytes


class EventReceiver(ServedInThread):
    """``with EventReceiver() as receiver:`` … ``receiver.url``, ``receiver.wait_for(n)``.

    ``statuses`` are the answers in order (``[503, 200]``: the first request gets 503, every
    later one 200). ``port=0`` picks a free loopback port.
    """

    def __init__(self, statuses: tuple[int, ...] = (200,), port: int = 0) -> None:
        assert statuses, "the receiver needs at least one status to answer"
        self._statuses = list(statuses)
        self._requests: list[ReceivedRequest] = []
        self._arrived = threading.Condition()
        ServedInThread.__init__(self, self._handler(), "event-receiver", port=port)

    @property
    def url(self) -> str:
        return self.origin

    def received(self) -> list[ReceivedRequest]:
        with self._arrived:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedRequest]:
        """The requests once at least ``count`` arrived; fails after ``timeout`` seconds."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(
                    f"{len(self._requests)} request(s) arrived in {timeout} s, not {count}"
                )
            return list(self._requests)

    def _answer(self, request: ReceivedRequest) -> int:
        with self._arrived:
            self._requests.append(request)
            status = self._statuses.pop(0) if len(self._statuses) > 1 else self._statuses[0]
            self._arrived.notify_all()
            return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = answer(ReceivedRequest(self.path, headers, self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


__all__ = ["EventReceiver", "ReceivedRequest"]
