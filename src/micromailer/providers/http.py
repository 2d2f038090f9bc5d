"""The HTTP seam of the adapters: anything that can ``send`` an ``httpx.Request``.

A worker sends on its event loop through :class:`AiohttpSender` (an :class:`AsyncHttpSender`
on one aiohttp connection pool); tools and tests may use a blocking ``httpx.Client``
(:class:`HttpSender`). Adapters build requests and read answers as httpx objects for both.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from types import TracebackType
from typing import Any, Protocol

import aiohttp
import httpx
import yarl

#: How long an idle pooled connection is kept (httpx's default ``keepalive_expiry``).
KEEPALIVE_EXPIRY = 5.0


class HttpSender(Protocol):
    """The part of ``httpx.Client`` adapters use: ``build_request`` applies the client's
    headers and timeouts, ``send`` sends."""

    def build_request(self, method: str, url: str, **kwargs: Any) -> httpx.Request: ...

    def send(self, request: httpx.Request) -> httpx.Response: ...

    def close(self) -> None: ...


class AsyncHttpSender(Protocol):
    """The part of ``httpx.AsyncClient`` adapters use (see :class:`HttpSender`)."""

    def build_request(self, method: str, url: str, **kwargs: Any) -> httpx.Request: ...

    async def send(self, request: httpx.Request) -> httpx.Response: ...

    async def aclose(self) -> None: ...


class AiohttpSender:
    """Sends ``httpx.Request`` objects through one pooled ``aiohttp.ClientSession``.

    ``timeout`` bounds each wait for the server (a read, or a free pooled connection),
    ``connect_timeout`` opening a connection, and ``total_timeout`` the whole call, from the
    wait for a pooled connection to the last byte of the answer: a worker's lease is sized
    from it (``Settings.lease_seconds``). ``headers`` go on every request, below the
    request's own. The session is opened on the first :meth:`send`, on the running loop, and
    serves that loop only. Redirects are not followed and no cookies are kept. aiohttp's
    errors are raised as the httpx errors they correspond to (:func:`map_aiohttp_errors`).
    """

    def __init__(
        self,
        *,
        timeout: float,
        connect_timeout: float,
        total_timeout: float,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout, connect=timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self._headers = httpx.Headers(headers)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def timeout(self) -> aiohttp.ClientTimeout:
        """The timeouts every call has (adapters that do not speak HTTP follow them too)."""
        return self._timeout

    def build_request(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Request:
        """An ``httpx.Request`` (``json=``, ``content=``… as httpx takes them) carrying the
        sender's headers; ``headers`` given here replace those of the same name."""
        merged = self._headers.copy()
        if headers:
            merged.update(headers)
        return httpx.Request(method, _parsed(url), headers=merged, **kwargs)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole answer."""
        session = self._session or self._open()
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        with map_aiohttp_errors(request):
            async with session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
        headers = answer.raw_headers
        if answer.headers.get("Content-Encoding"):
            # aiohttp has decoded the body already: httpx must not decode it again.
            headers = tuple(
                (name, value)
                for name, value in headers
                if name.lower() not in (b"content-encoding", b"content-length")
            )
        version = answer.version
        return httpx.Response(
            answer.status,
            headers=headers,
            content=content,
            request=request,
            extensions={
                "http_version": f"HTTP/{version.major}.{version.minor}".encode()
                if version
                else b"HTTP/1.1",
                "reason_phrase": (answer.reason or "").encode("ascii", "replace"),
            },
        )

    async def aclose(self) -> None:
        """Close the pool's connections (if :meth:`send` ever opened it)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> AiohttpSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=KEEPALIVE_EXPIRY,
            ssl=httpx.create_ssl_context(),  # the CA bundle httpx trusts (certifi)
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar(),
            # HTTP(S)_PROXY and NO_PROXY, as httpx honours them; aiohttp reads the environment
            # again on every request (a tenth of a worker's CPU), so only when one is set.
            trust_env=bool(urllib.request.getproxies()),
        )
        return self._session


@lru_cache(maxsize=64)
def _parsed(url: str) -> httpx.URL:
    """A provider's endpoint, parsed once: parsing was half the cost of building a request."""
    return httpx.URL(url)


@contextmanager
def map_aiohttp_errors(request: httpx.Request) -> Iterator[None]:
    """Raise aiohttp's errors as httpx's, ``from`` the original.

    Messages name the host and what happened, never a header (API keys travel in headers).
    """
    where = _host_and_port(request.url)
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # before TimeoutError: it is one
        raise httpx.ConnectTimeout(f"timed out connecting to {where}", request=request) from exc
    except aiohttp.ServerTimeoutError as exc:  # a read: aiohttp.SocketTimeoutError
        raise httpx.ReadTimeout(
            f"timed out waiting for {where} to answer", request=request
        ) from exc
    except TimeoutError as exc:  # the whole call
        raise httpx.ReadTimeout(
            f"no complete answer from {where} within the call's total timeout", request=request
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(
            f"cannot connect to {where}: {_connect_failure(exc)}", request=request
        ) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(
            f"{where} closed the connection without a complete answer", request=request
        ) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.RemoteProtocolError(
            f"incomplete answer body from {where}", request=request
        ) from exc
    except aiohttp.ClientResponseError as exc:  # a malformed status line or header
        raise httpx.RemoteProtocolError(
            f"malformed answer from {where}: {exc.message}", request=request
        ) from exc
    except aiohttp.ClientOSError as exc:  # e.g. the connection was reset
        raise httpx.ReadError(
            f"connection to {where} failed: {exc.strerror or type(exc).__name__}",
            request=request,
        ) from exc
    except aiohttp.ClientError as exc:
        raise httpx.ReadError(
            f"request to {where} failed: {type(exc).__name__}", request=request
        ) from exc


def _host_and_port(url: httpx.URL) -> str:
    # Never the userinfo part of the URL.
    return f"{url.host}:{url.port}" if url.port is not None else url.host


def _connect_failure(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    if isinstance(os_error, ConnectionRefusedError):
        return "connection refused"
    return os_error.strerror or str(os_error) or type(os_error).__name__


__all__ = [
    "KEEPALIVE_EXPIRY",
    "AiohttpSender",
    "AsyncHttpSender",
    "HttpSender",
    "map_aiohttp_errors",
]
