"""The worker's client (``AiohttpSender``) against a loopback server that records what arrives.

The sandbox checks what a provider checks; this server shows the request exactly as sent
(every header, the raw body) and gives whatever answer a test needs, even a broken one.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from micromailer import __version__
from micromailer.config import Settings
from micromailer.domain.message import Message
from micromailer.providers.base import ProviderAdapter, SendResult
from micromailer.providers.errors import NetworkError, ServerError
from micromailer.providers.http import AiohttpSender
from micromailer.providers.mandrill import MandrillAdapter
from micromailer.providers.registry import ADAPTERS, make_async_http_client
from micromailer.providers.sendgrid import SendGridAdapter, build_payload
from tests.contract.helpers import closed_port_url, make_message

API_KEY = "sk-never-in-a-message"


@dataclass(frozen=True)
class Received:
    """One request as the server read it."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (a header sent twice shows up twice)."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class Answer:
    status: int = 200
    reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Read the request, then close the connection without answering.
    hang_up: bool = False


class RecordingServer:
    """An HTTP/1.1 server on a free loopback port: keeps every request, gives ``answer``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer = Answer()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._record_and_answer()

            def do_POST(self) -> None:
                self._record_and_answer()

            def _record_and_answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.received.append(
                    Received(self.command, self.path, list(self.headers.items()), body)
                )
                answer = server.answer
                if answer.hang_up:
                    self.close_connection = True
                    return
                self.send_response(answer.status, answer.reason)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


#: A success answer of each provider.
SUCCESS = {
    "sendgrid": Answer(202, headers={"X-Message-Id": "sg-1"}),
    "mandrill": Answer(
        200,
        headers={"Content-Type": "application/json"},
        body=json.dumps([{"email": "a@example.com", "status": "sent", "_id": "md-1"}]).encode(),
    ),
    "mailgun": Answer(
        200,
        headers={"Content-Type": "application/json"},
        body=json.dumps({"id": "<mg-1@example.org>", "message": "Queued. Thank you."}).encode(),
    ),
    "postmark": Answer(
        200,
        headers={"Content-Type": "application/json"},
        body=json.dumps({"MessageID": "pm-1", "ErrorCode": 0, "Message": "OK"}).encode(),
    ),
    "ses": Answer(200, headers={"Content-Type": "application/json"}, body=b'{"MessageId": "s-1"}'),
    "sparkpost": Answer(200, headers={"Content-Type": "application/json"},
                        body=b'{"results": {"id": "1", "total_accepted_recipients": 1}}'),
    "brevo": Answer(201, headers={"Content-Type": "application/json"},
                    body=b'{"messageId": "<br-1@smtp-relay.mailin.fr>"}'),
    "resend": Answer(200, headers={"Content-Type": "application/json"}, body=b'{"id": "re-1"}'),
}


def worker_client() -> AiohttpSender:
    return make_async_http_client(Settings(provider_timeout=5.0, provider_connect_timeout=1.0))


def send_through_worker_client(
    adapter_class: type[ProviderAdapter], base_url: str, message: Message | None = None
) -> SendResult:
    async def send() -> SendResult:
        async with worker_client() as client:
            adapter = adapter_class(api_key=API_KEY, base_url=base_url, client=client)
            return await adapter.send_async(message or make_message())

    return asyncio.run(send())


@pytest.mark.parametrize("kind", sorted(set(ADAPTERS) - {"smtp"}))  # SMTP: no HTTP send
def test_the_user_agent_arrives(server: RecordingServer, kind: str) -> None:
    server.answer = SUCCESS[kind]

    send_through_worker_client(ADAPTERS[kind], server.url)

    assert server.received[-1].values("User-Agent") == [f"micromailer/{__version__}"]


def test_the_adapters_headers_and_body_arrive_once_each(server: RecordingServer) -> None:
    server.answer = SUCCESS["sendgrid"]
    message = make_message()

    result = send_through_worker_client(SendGridAdapter, server.url, message)

    received = server.received[-1]
    assert (received.method, received.path) == ("POST", "/v3/mail/send")
    assert received.values("Authorization") == [f"Bearer {API_KEY}"]
    assert received.values("Content-Type") == ["application/json"]
    assert received.values("Content-Length") == [str(len(received.body))]
    assert len(received.values("Host")) == 1
    assert json.loads(received.body) == build_payload(message)
    assert result.message_id == "sg-1"


def test_request_headers_replace_the_senders_own(server: RecordingServer) -> None:
    async def send() -> None:
        async with AiohttpSender(
            timeout=5.0, connect_timeout=1.0, total_timeout=10.0,
            headers={"User-Agent": "default", "X-Team": "mail"},
        ) as client:
            await client.send(
                client.build_request("GET", f"{server.url}/", headers={"user-agent": "mine"})
            )

    asyncio.run(send())

    received = server.received[-1]
    assert received.values("User-Agent") == ["mine"]
    assert received.values("X-Team") == ["mail"]


def test_a_compressed_answer_is_decoded_once(server: RecordingServer) -> None:
    plain = SUCCESS["mandrill"].body
    server.answer = Answer(
        200,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        body=gzip.compress(plain),
    )

    result = send_through_worker_client(MandrillAdapter, server.url)

    assert result.message_id == "md-1"


def test_an_error_answers_own_reason_phrase_is_the_reason(server: RecordingServer) -> None:
    server.answer = Answer(503, reason="Down For Maintenance", body=b"<html>down</html>")

    with pytest.raises(ServerError) as caught:
        send_through_worker_client(SendGridAdapter, server.url)

    assert caught.value.status_code == 503
    assert caught.value.reason == "Down For Maintenance"
    assert caught.value.body == "<html>down</html>"


def test_a_connection_closed_without_an_answer_is_network_error(
    server: RecordingServer,
) -> None:
    server.answer = Answer(hang_up=True)

    with pytest.raises(NetworkError) as caught:
        send_through_worker_client(SendGridAdapter, server.url)

    assert "closed the connection without a complete answer" in caught.value.reason
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in str(caught.value.__cause__)


def test_a_refused_connections_error_never_carries_the_api_key() -> None:
    with pytest.raises(NetworkError) as caught:
        send_through_worker_client(SendGridAdapter, closed_port_url())

    assert "connection refused" in caught.value.reason
    assert API_KEY not in str(caught.value)
    assert API_KEY not in str(caught.value.__cause__)


def test_a_redirect_is_answered_not_followed(server: RecordingServer) -> None:
    server.answer = Answer(302, headers={"Location": "/elsewhere"})

    async def send() -> httpx.Response:
        async with worker_client() as client:
            return await client.send(client.build_request("GET", f"{server.url}/here"))

    response = asyncio.run(send())

    assert response.status_code == 302
    assert [received.path for received in server.received] == ["/here"]


def test_cookies_are_not_sent_back(server: RecordingServer) -> None:
    server.answer = Answer(200, headers={"Set-Cookie": "session=abc; Path=/"})
    # By name: a cookie jar would refuse cookies from a bare IP address anyway.
    url = server.url.replace("127.0.0.1", "localhost")

    async def send_twice() -> None:
        async with worker_client() as client:
            for _ in range(2):
                await client.send(client.build_request("GET", f"{url}/"))

    asyncio.run(send_twice())

    assert [received.values("Cookie") for received in server.received] == [[], []]


def test_http_proxy_from_the_environment_is_used(
    server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server stands in for the proxy: a proxied request arrives with the absolute URL.
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    server.answer = SUCCESS["sendgrid"]

    send_through_worker_client(SendGridAdapter, "http://sendgrid.invalid")

    assert server.received[-1].path == "http://sendgrid.invalid/v3/mail/send"
