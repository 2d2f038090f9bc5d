"""One way for tests to serve HTTP on loopback from a thread: the stand-ins for providers,
webhook endpoints and callback receivers share it."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class ServedInThread:
    """A ``ThreadingHTTPServer`` on a free loopback port, answered by ``handler``, served from
    a daemon thread between ``start()`` and ``stop()`` (or as a context manager)."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], name: str, *, port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name,
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS)."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["ServedInThread"]
