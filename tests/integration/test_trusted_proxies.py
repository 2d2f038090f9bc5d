"""The client address through trusted proxies: uvicorn, with the options ``micromailer serve``
and ``run`` give it, puts the ``X-Forwarded-For`` client in ``scope["client"]`` (what
``Submitter.client`` records) for a trusted proxy only; real HTTP over loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from micromailer.cli import server_options
from micromailer.config import Settings

FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


async def echo_client(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers what reached the app: the client's address and the scheme."""
    body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serving(trusted_proxies: str | None) -> Iterator[str]:
    """``echo_client`` under uvicorn with the CLI's options, on a free loopback port."""
    settings = Settings(_env_file=None, trusted_proxies=trusted_proxies)  # type: ignore[call-arg]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = {**server_options(settings, "127.0.0.1", port), "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(echo_client, lifespan="off", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def reached(url: str, headers: dict[str, str]) -> dict[str, str]:
    answer: dict[str, str] = httpx.get(url, headers=headers, timeout=5).json()
    return answer


def test_a_trusted_proxy_names_the_client_and_the_scheme() -> None:
    with serving("127.0.0.1") as url:
        assert reached(url, FORWARDED) == {"client": "203.0.113.9", "scheme": "https"}
        assert reached(url, {}) == {"client": "127.0.0.1", "scheme": "http"}


def test_the_nearest_untrusted_address_is_the_client() -> None:
    with serving("127.0.0.0/8, 10.0.0.0/8") as url:
        chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.3"}
        assert reached(url, chain)["client"] == "203.0.113.9"


@pytest.mark.parametrize("trusted", [None, "10.0.0.0/8", "192.0.2.1"])
def test_anyone_else_cannot_name_another_client(trusted: str | None) -> None:
    with serving(trusted) as url:
        assert reached(url, FORWARDED) == {"client": "127.0.0.1", "scheme": "http"}
