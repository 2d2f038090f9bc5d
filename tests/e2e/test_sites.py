"""No cross-site use, over real HTTP against ``micromailer run``: the issue's two requests
(another site's form, a rebound DNS name) refused, CORS for the allowed origins only, odd
``Host`` headers answered 4xx by the real server, and the bind address of ``serve --workers``
answered."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from micromailer.security.cors import EXPOSE_HEADERS
from micromailer.security.sites import ONE_HOST, OTHER_SITE, UNKNOWN_HOST
from tests.support.keys import create_key
from tests.support.processes import ManagedProcess, clean_env, free_port
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

APP = "https://app.example"
FORM = {"to": "victim@example.com", "subject": "hi", "content": "x"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    """``micromailer run`` with the default site settings."""
    running = EmbeddedService(tmp_path_factory.mktemp("sites") / "var").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def open_to_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedService, str]]:
    """``micromailer run`` answering any ``Host``, with one allowed origin and a key."""
    running = EmbeddedService(
        tmp_path_factory.mktemp("cors") / "var",
        MICROMAILER_ALLOWED_ORIGINS=f"{APP}, http://localhost:3000",
        MICROMAILER_ALLOWED_HOSTS="*",
    ).start()
    try:
        yield running, create_key(running.env, "app")
    finally:
        running.stop()


def stored(service: EmbeddedService) -> int:
    return len(service.http.get(f"{service.url}/emails").json())


def sentence(response: httpx.Response) -> str:
    body = response.json()
    assert body["status"] == "failed" and body["details"] == []
    assert response.headers["content-type"] == "application/json"
    error: str = body["error"]
    return error


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items()
            if name.startswith("access-control-")}


def raw(port: int, request: bytes) -> tuple[int, bytes]:
    """One request sent byte for byte; its status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# -- the two requests ------------------------------------------------------------------


def test_another_sites_form_gets_403_and_nothing_is_stored_or_sent(
    service: EmbeddedService,
) -> None:
    before = stored(service)

    refused = httpx.post(f"{service.url}/email", data=FORM,
                         headers={"Origin": "https://evil.example"})

    assert refused.status_code == 403
    assert sentence(refused) == OTHER_SITE
    assert cors_headers(refused) == {}
    assert stored(service) == before
    assert service.sandbox.http.get(f"{service.sandbox_url}/_sandbox/sendgrid/stats").json()[
        "accepted"] == 0


def test_a_rebound_dns_name_gets_400_naming_the_setting(service: EmbeddedService) -> None:
    refused = httpx.get(f"{service.url}/emails", headers={"Host": "evil.example"})

    assert refused.status_code == 400
    assert sentence(refused) == UNKNOWN_HOST
    assert "MICROMAILER_ALLOWED_HOSTS" in UNKNOWN_HOST


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
    {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"},
    {"Origin": "null"},
    {"Origin": "http://localhost.evil.example"},
])
def test_other_sites_get_403_before_any_key_is_asked(
    service: EmbeddedService, headers: dict[str, str],
) -> None:
    refused = httpx.get(f"{service.url}/emails", headers=headers)

    assert refused.status_code == 403
    assert sentence(refused) == OTHER_SITE


# -- what still works --------------------------------------------------------------------------


def test_the_servers_own_page_and_clients_without_a_browser_still_send(
    service: EmbeddedService,
) -> None:
    own = httpx.post(f"{service.url}/email", json=FORM, headers={
        "Origin": service.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors",
    })
    curl = httpx.post(f"{service.url}/email", data=FORM)
    by_name = httpx.post(f"http://localhost:{service.port}/email", json=FORM,
                         headers={"Origin": f"http://localhost:{service.port}"})

    assert [own.status_code, curl.status_code, by_name.status_code] == [202, 202, 202]
    assert cors_headers(own) == {}


def test_a_link_from_another_site_opens_the_page(service: EmbeddedService) -> None:
    page = httpx.get(f"{service.url}/", headers={
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
    })
    framed = httpx.get(f"{service.url}/", headers={
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe",
    })

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert framed.status_code == 403


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_answer_the_pods_address(service: EmbeddedService, path: str) -> None:
    assert httpx.get(f"{service.url}{path}", headers={"Host": "10.244.3.7:8000"}).status_code == 200


def test_no_cors_headers_without_allowed_origins(service: EmbeddedService) -> None:
    preflight = httpx.options(f"{service.url}/email", headers={
        "Origin": APP, "Access-Control-Request-Method": "POST",
    })

    assert preflight.status_code == 403
    assert cors_headers(preflight) == {}


def test_the_sandbox_answers_no_rebound_name(service: EmbeddedService) -> None:
    url = f"{service.sandbox_url}/_sandbox/sendgrid/faults"

    rebound = httpx.put(url, json={"failRate": 1.0}, headers={"Host": "evil.example"})

    assert rebound.status_code == 400
    assert httpx.get(url).json()["failRate"] == 0.0


# -- odd Host headers on the real server ------------------------------------------------------


@pytest.mark.parametrize(("request_head", "expected"), [
    (b"GET /emails HTTP/1.0\r\n", (400, ONE_HOST)),
    (b"GET /emails HTTP/1.1\r\nHost: \r\n", (400, ONE_HOST)),
    (b"GET /emails HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n", (400, ONE_HOST)),
    (b"GET /emails HTTP/1.1\r\nHost: b\xc3\xbccher.example\r\n", (400, UNKNOWN_HOST)),
    (b"GET /emails HTTP/1.1\r\nHost: \xff\xfe\r\n", (400, UNKNOWN_HOST)),
    (b"GET /emails HTTP/1.1\r\nHost: ::1\r\n", (400, UNKNOWN_HOST)),
    (b"GET /emails HTTP/1.1\r\nHost: 127.0.0.2\r\n", (400, UNKNOWN_HOST)),
    (b"GET /emails HTTP/1.1\r\nHost: [::1]:8000\r\n", (200, None)),
    (b"GET /emails HTTP/1.0\r\nHost: LOCALHOST.\r\n", (200, None)),
])
def test_odd_hosts_get_a_4xx_sentence_never_a_5xx(
    service: EmbeddedService, request_head: bytes, expected: tuple[int, str | None],
) -> None:
    status, body = raw(service.port, request_head + b"Connection: close\r\n\r\n")

    if expected[1] is None:
        assert status == expected[0]
    else:
        assert (status, json.loads(body)["error"]) == expected


# -- allowed origins and `*` -------------------------------------------------------------------


def test_an_allowed_origins_preflight_is_answered_without_a_key(
    open_to_app: tuple[EmbeddedService, str],
) -> None:
    service, _ = open_to_app

    preflight = httpx.options(f"{service.url}/email", headers={
        "Origin": APP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors",
    })

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert all(name in allowed for name in ("authorization", "content-type", "idempotency-key"))
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_an_allowed_origin_sends_with_its_key_and_reads_the_answer(
    open_to_app: tuple[EmbeddedService, str],
) -> None:
    service, key = open_to_app
    site = {"Origin": APP, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}

    accepted = httpx.post(f"{service.url}/email", json=FORM,
                          headers={**site, "Authorization": f"Bearer {key}"})
    keyless = httpx.post(f"{service.url}/email", json=FORM, headers=site)

    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["access-control-allow-origin"] == APP
    assert accepted.headers["access-control-expose-headers"] == ", ".join(EXPOSE_HEADERS)
    assert accepted.headers["location"].startswith("/email/")
    assert keyless.status_code == 401  # the key gate is behind CORS: the page reads why
    assert keyless.headers["access-control-allow-origin"] == APP


def test_other_origins_stay_refused_and_get_no_cors_headers(
    open_to_app: tuple[EmbeddedService, str],
) -> None:
    service, key = open_to_app

    refused = httpx.post(f"{service.url}/email", json=FORM, headers={
        "Origin": "https://evil.example", "Authorization": f"Bearer {key}",
    })

    assert refused.status_code == 403
    assert cors_headers(refused) == {}


def test_a_star_answers_every_host(open_to_app: tuple[EmbeddedService, str]) -> None:
    service, key = open_to_app

    answer = httpx.get(f"{service.url}/emails",
                       headers={"Host": "evil.example", "Authorization": f"Bearer {key}"})

    assert answer.status_code == 200


# -- the bind address --------------------------------------------------------------------------


def test_serve_with_several_processes_answers_its_bind_address(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(MICROMAILER_DATA_DIR=str(tmp_path / "var"),
                    MICROMAILER_SANDBOX_URL="http://127.0.0.1:9")
    api = ManagedProcess(["serve", "--host", "127.0.0.2", "--port", str(port), "--workers", "2"],
                         env, tmp_path / "serve.log")
    url = f"http://127.0.0.2:{port}"
    try:
        api.start().wait_http(f"{url}/healthz")
        answers = {
            (host, httpx.get(f"{url}/emails", headers={"Host": host}).status_code)
            for _ in range(4)  # both processes, whichever takes the connection
            for host in (f"127.0.0.2:{port}", "localhost", "evil.example")
        }
    finally:
        api.stop()

    assert answers == {(f"127.0.0.2:{port}", 200), ("localhost", 200), ("evil.example", 400)}
