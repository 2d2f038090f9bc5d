"""Every adapter maps a refused connection and a too-slow answer to ``NetworkError``, on the
blocking client and on the worker's client, whose calls also end at a total timeout."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiosmtplib
import httpx
import pytest

from micromailer.config import Settings
from micromailer.providers.base import SendResult
from micromailer.providers.errors import NetworkError, ServerError
from micromailer.providers.http import AiohttpSender
from micromailer.providers.registry import ADAPTERS, make_async_http_client
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import SANDBOX_KEYS, closed_port_url, make_message

FaultSetter = Callable[..., dict[str, Any]]

pytestmark = pytest.mark.parametrize("kind", sorted(ADAPTERS))


def test_refused_connection_is_network_error(http_client: httpx.Client, kind: str) -> None:
    adapter = ADAPTERS[kind](api_key="k", base_url=closed_port_url(), client=http_client)

    with pytest.raises(NetworkError) as caught:
        adapter.send(make_message())

    assert caught.value.provider == kind


def test_answer_slower_than_the_client_timeout_is_network_error(
    sandbox: SandboxThread, set_faults: FaultSetter, kind: str
) -> None:
    set_faults(kind, latencyMs=500)
    with httpx.Client(timeout=httpx.Timeout(0.1, connect=1.0), trust_env=False) as client:
        adapter = ADAPTERS[kind](api_key=SANDBOX_KEYS[kind], base_url=sandbox.url, client=client)
        with pytest.raises(NetworkError) as caught:
            adapter.send(make_message())

    assert "timed out" in caught.value.reason


# -- the worker's client: the adapters' httpx requests sent through aiohttp ---------------


def worker_client(
    timeout: float, connect_timeout: float = 1.0, total_timeout: float = 30.0
) -> AiohttpSender:
    settings = Settings(provider_timeout=timeout, provider_connect_timeout=connect_timeout,
                        provider_total_timeout=total_timeout)
    return make_async_http_client(settings)


def test_refused_connection_is_network_error_on_the_workers_client(kind: str) -> None:
    async def send() -> None:
        async with worker_client(5.0) as client:
            adapter = ADAPTERS[kind](api_key="k", base_url=closed_port_url(), client=client)
            await adapter.send_async(make_message())

    with pytest.raises(NetworkError) as caught:
        asyncio.run(send())

    assert caught.value.provider == kind
    assert "connection refused" in caught.value.reason


@pytest.fixture
def unanswered_url() -> Iterator[str]:
    """A loopback URL whose listener never accepts and whose backlog is full: connecting
    hangs until the client gives up (Linux drops the SYN of a full accept queue)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("relies on Linux dropping connections beyond a full accept queue")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_connect_timeout_is_network_error_on_the_workers_client(
    unanswered_url: str, kind: str
) -> None:
    async def send() -> None:
        async with worker_client(5.0, connect_timeout=0.2) as client:
            adapter = ADAPTERS[kind](api_key="k", base_url=unanswered_url, client=client)
            await adapter.send_async(make_message())

    with pytest.raises(NetworkError) as caught:
        asyncio.run(send())

    assert "timed out" in caught.value.reason
    assert isinstance(caught.value.__cause__, httpx.ConnectTimeout)


def test_server_error_answer_is_server_error_on_the_workers_client(
    sandbox: SandboxThread, set_faults: FaultSetter, kind: str
) -> None:
    set_faults(kind, failRate=1.0, status=503)

    async def send() -> None:
        async with worker_client(5.0) as client:
            adapter = ADAPTERS[kind](
                api_key=SANDBOX_KEYS[kind], base_url=sandbox.url, client=client
            )
            await adapter.send_async(make_message())

    with pytest.raises(ServerError) as caught:
        asyncio.run(send())

    assert caught.value.provider == kind
    assert caught.value.status_code == (None if kind == "smtp" else 503)  # SMTP: no HTTP status
    assert caught.value.body  # the provider's error answer, read through aiohttp


def test_slow_answer_is_network_error_on_the_workers_client(
    sandbox: SandboxThread, set_faults: FaultSetter, kind: str
) -> None:
    set_faults(kind, latencyMs=500)

    async def send() -> None:
        async with worker_client(0.1) as client:
            adapter = ADAPTERS[kind](
                api_key=SANDBOX_KEYS[kind], base_url=sandbox.url, client=client
            )
            await adapter.send_async(make_message())

    with pytest.raises(NetworkError) as caught:
        asyncio.run(send())

    assert "timed out" in caught.value.reason
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout | aiosmtplib.SMTPReadTimeoutError)


def test_the_workers_client_sends_and_reads_an_answer(
    sandbox: SandboxThread, control: httpx.Client, kind: str
) -> None:
    message = make_message()

    async def send() -> SendResult:
        async with worker_client(5.0) as client:
            adapter = ADAPTERS[kind](
                api_key=SANDBOX_KEYS[kind], base_url=sandbox.url, client=client
            )
            return await adapter.send_async(message)

    result = asyncio.run(send())

    assert result.provider == kind
    assert result.message_id
    captured = control.get(f"/_sandbox/{kind}/messages").json()
    assert [(entry["messageId"], entry["subject"]) for entry in captured] == [
        (result.message_id, message.subject)
    ]


class _TrickleHandler(socketserver.BaseRequestHandler):
    """Answers 200 at once, then its body a byte every 0.1 s for 3 s: every read is quick,
    the whole answer is slow."""

    def handle(self) -> None:
        self.request.recv(65536)
        body = b'{"padding": "' + b"x" * 14 + b'"}'
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body))
        try:
            for byte in body:
                time.sleep(0.1)
                self.request.sendall(bytes([byte]))
        except OSError:
            pass  # the client gave up, as it should


@pytest.fixture
def trickling_url() -> Iterator[str]:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _TrickleHandler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


def test_an_answer_that_trickles_past_the_total_timeout_is_network_error_on_the_workers_client(
    trickling_url: str, kind: str
) -> None:
    """Each read arrives within the read timeout; the call still ends at its total timeout,
    which is what lets a worker's lease be sized from it."""

    async def send() -> None:
        async with worker_client(1.0, total_timeout=0.5) as client:
            adapter = ADAPTERS[kind](api_key="k", base_url=trickling_url, client=client)
            await adapter.send_async(make_message())

    started = time.monotonic()
    with pytest.raises(NetworkError) as caught:
        asyncio.run(send())

    assert time.monotonic() - started < 2.5, "the call ran to the end of the answer"
    assert "timed out" in caught.value.reason
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert "total timeout" in str(caught.value.__cause__)
