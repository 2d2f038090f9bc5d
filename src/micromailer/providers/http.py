"""The HTTP seam of the adapters: anything that can ``send`` an ``httpx.Request``.

A worker sends on its event loop with one pooled ``httpx.AsyncClient``
(:class:`AsyncHttpSender`); tools and tests may use a blocking ``httpx.Client``
(:class:`HttpSender`). Adapters build requests the same way for both.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


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


class AiohttpPoolTransport(AiohttpTransport):
    """httpx's API over aiohttp's connection pool (see ``registry.make_async_http_client``).

    The underlying transport reports every aiohttp connection error as a timeout; a refused
    or dropped connection is reported here as what it is, so the try's reason says so.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TimeoutException as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            raise


__all__ = ["AiohttpPoolTransport", "AsyncHttpSender", "HttpSender"]
