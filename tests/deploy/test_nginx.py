"""Debian's real nginx with ``deploy/nginx/micromailer.conf`` in front of a real ``micromailer
serve`` (distributed mode on this machine's PostgreSQL, RabbitMQ and Redis), every request sent
through it: what the conf promises, one promise a test.

The client connects from 127.0.0.5, another loopback address, so that the address the service
records can only have come from nginx's ``X-Forwarded-For``; the API trusts nginx's address
(127.0.0.1) alone, as a deployment that names its proxy does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from micromailer.api.routes.web import STATIC_DIR
from micromailer.config import Settings
from tests.deploy.nginx import NginxProxy
from tests.support.backends import fresh_backends
from tests.support.cluster import Cluster
from tests.support.keys import create_key
from tests.support.processes import ManagedProcess, free_port

pytestmark = pytest.mark.e2e

#: The client's own address: nginx's peer, never the API's.
CLIENT_ADDRESS = "127.0.0.5"
#: What nginx and the API trust each other as.
NGINX_ADDRESS = "127.0.0.1"
#: Short enough for a test to wait out; the shipped conf's values are production ones.
IMPATIENT = {"client_header_timeout": "1s", "client_body_timeout": "1s", "send_timeout": "1s"}
#: How long a trickling client keeps going before the test gives up on nginx cutting it off.
PATIENCE = 30.0
#: micromailer's default limit, which the conf's client_max_body_size repeats.
MAX_BODY_BYTES = Settings(_env_file=None).max_body_bytes  # type: ignore[call-arg]


@dataclass
class Deployment:
    cluster: Cluster
    proxy: NginxProxy
    key: str
    #: A key that may read /metrics, as Prometheus's.
    admin_key: str

    def client(self, proxy: NginxProxy | None = None, *, key: str | None = None,
               headers: dict[str, str] | None = None) -> httpx.Client:
        """An HTTP client of ``proxy`` (the main one by default), connecting from
        :data:`CLIENT_ADDRESS` with ``key`` (the send key by default)."""
        return httpx.Client(
            base_url=(proxy or self.proxy).url, timeout=30,
            transport=httpx.HTTPTransport(local_address=CLIENT_ADDRESS),
            headers={"Authorization": f"Bearer {key or self.key}", **(headers or {})},
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("nginx")
    with fresh_backends() as backends:
        cluster = Cluster(root, backends, workers=1, concurrency=4,
                          MICROMAILER_REQUIRE_AUTH="true",
                          MICROMAILER_TRUSTED_PROXIES=NGINX_ADDRESS).start()
        try:
            key = create_key(cluster.env, "shop")
            admin_key = create_key(cluster.env, "prometheus", "--scope", "admin")
            proxy = NginxProxy(root / "nginx", cluster.api_ports[0]).start()
            try:
                yield Deployment(cluster, proxy, key, admin_key)
            finally:
                proxy.stop()
        finally:
            cluster.stop()


@pytest.fixture(scope="module")
def everyone_trusted(
    deployment: Deployment, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[NginxProxy]:
    """nginx before another API process that trusts every peer's forwarded headers, as
    docker-compose.yml's does (only nginx's port is published there)."""
    root = tmp_path_factory.mktemp("trusting")
    port = free_port()
    api = ManagedProcess(["serve", "--port", str(port)],
                         {**deployment.cluster.env, "MICROMAILER_TRUSTED_PROXIES": "*"},
                         root / "api.log").start()
    try:
        api.wait_http(f"http://127.0.0.1:{port}/readyz")
        proxy = NginxProxy(root / "nginx", port).start()
        try:
            yield proxy
        finally:
            proxy.stop()
    finally:
        api.stop()


@pytest.fixture(scope="module")
def impatient(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[NginxProxy]:
    """The conf with its slow-client timeouts shortened to :data:`IMPATIENT`'s."""
    proxy = NginxProxy(tmp_path_factory.mktemp("impatient"), deployment.cluster.api_ports[0],
                       **IMPATIENT).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def audit_events(env: dict[str, str]) -> list[dict[str, Any]]:
    """``micromailer audit --json``, as an operator reads it."""
    done = subprocess.run([sys.executable, "-m", "micromailer", "audit", "--json",
                           "--limit", "100000"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    events: list[dict[str, Any]] = json.loads(done.stdout)
    return events


def accepted_from(deployment: Deployment, email_id: str) -> str:
    """The client address the audit log gives for the email's acceptance."""
    [event] = [event for event in audit_events(deployment.cluster.env)
               if event["kind"] == "email.accepted" and event["emailId"] == email_id]
    client: str = event["client"]
    return client


def post_email(client: httpx.Client, subject: str, **headers: str) -> str:
    answer = client.post("/email", headers=headers,
                         json={"to": "jane@example.com", "subject": subject, "content": "Hi."})
    assert answer.status_code == 202, answer.text
    email_id: str = answer.json()["emailId"]
    return email_id


# -- what clients send --------------------------------------------------------------------


def test_an_email_posted_through_nginx_is_accepted_and_sent(deployment: Deployment) -> None:
    with deployment.client() as client:
        email_id = post_email(client, "Through nginx")
        deadline = time.monotonic() + 60
        # the sandbox's delivery event may move it on from `sent` before a poll sees it
        while (body := client.get(f"/email/{email_id}").json())["status"] not in {
                "sent", "delivered", "failed"}:
            assert time.monotonic() < deadline, body
            time.sleep(0.3)

    assert body["status"] in {"sent", "delivered"}, body
    subjects = [m["subject"] for m in deployment.cluster.sandbox_client.captured("sendgrid")]
    assert "Through nginx" in subjects


def test_the_clients_address_reaches_the_audit_log_through_x_forwarded_for(
    deployment: Deployment,
) -> None:
    with deployment.client() as client:
        email_id = post_email(client, "Who sent me")

    assert accepted_from(deployment, email_id) == CLIENT_ADDRESS


@pytest.mark.parametrize("trusting", ["nginx only", "every peer"])
def test_a_forwarded_for_header_the_client_forges_is_not_believed(
    deployment: Deployment, everyone_trusted: NginxProxy, trusting: str,
) -> None:
    proxy = deployment.proxy if trusting == "nginx only" else everyone_trusted
    with deployment.client(proxy) as client:
        email_id = post_email(client, "Forged", **{"X-Forwarded-For": "203.0.113.9"})

    assert accepted_from(deployment, email_id) == CLIENT_ADDRESS


def test_the_host_keeps_its_port_for_the_other_site_check(deployment: Deployment) -> None:
    """A browser's same-origin POST passes only if micromailer sees nginx's port in the Host;
    an origin on another port of the same host is another site."""
    own = f"http://127.0.0.1:{deployment.proxy.port}"
    other = f"http://127.0.0.1:{deployment.proxy.port + 1}"
    with deployment.client() as client:
        post_email(client, "Same origin", Origin=own)
        refused = client.post("/email", headers={"Origin": other},
                              json={"to": "jane@example.com", "subject": "s", "content": "c"})

    assert refused.status_code == 403, refused.text


def test_the_scheme_is_nginxs_not_the_clients(deployment: Deployment) -> None:
    """micromailer builds its redirects from ``X-Forwarded-Proto``: nginx's scheme, whatever
    the client claims."""
    with deployment.client(headers={"X-Forwarded-Proto": "https"}) as client:
        answer = client.get("/providers/")

    assert answer.status_code == 307, answer.text
    assert answer.headers["location"] == f"http://127.0.0.1:{deployment.proxy.port}/providers"


# -- bodies --------------------------------------------------------------------------------


def test_a_body_at_micromailers_limit_reaches_it(deployment: Deployment) -> None:
    with deployment.client() as client:
        answer = client.post("/email?case=at-the-limit", content=b"x" * MAX_BODY_BYTES,
                             headers={"Content-Type": "application/json"})

    assert answer.status_code == 400, answer.text  # not JSON: micromailer read it all
    assert "upstream=127.0.0.1:" in deployment.proxy.access_log_line("case=at-the-limit")


@pytest.mark.parametrize("sent_as", ["Content-Length", "chunked"])
def test_a_body_over_the_limit_gets_micromailers_answer_from_nginx(
    deployment: Deployment, sent_as: str,
) -> None:
    """nginx answers for micromailer, byte for byte what micromailer itself says of the same
    body, and the API never sees it."""
    body = b"x" * (MAX_BODY_BYTES + 1)
    content: bytes | Iterator[bytes] = body
    if sent_as == "chunked":
        content = iter([body[n:n + 65536] for n in range(0, len(body), 65536)])
    marker = f"case=over-the-limit-{sent_as}"
    with deployment.client() as client:
        answer = client.post(f"/email?{marker}", content=content,
                             headers={"Content-Type": "application/json"})
    own = httpx.post(f"{deployment.cluster.clients[0].url}/email", content=body, timeout=30,
                     headers={"Content-Type": "application/json",
                              "Authorization": f"Bearer {deployment.key}"})

    assert (answer.status_code, own.status_code) == (413, 413)
    assert answer.headers["content-type"] == own.headers["content-type"] == "application/json"
    assert answer.content == own.content
    assert "upstream=-" in deployment.proxy.access_log_line(marker)


# -- what is not served, and what is served as it is ---------------------------------------


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "/%6Detrics", "//metrics",
                                  "/metrics?name[]=micromailer_emails_total"])
def test_metrics_are_not_served_to_the_outside(deployment: Deployment, path: str) -> None:
    """Not even to a key that may read them: to the outside there is nothing there."""
    with deployment.client(key=deployment.admin_key) as client:
        nothing = client.get("/no-such-page")
        # The path exactly as written (a relative "//metrics" would lose its slashes).
        answer = client.get(httpx.URL(f"{deployment.proxy.url}{path}"))

    assert nothing.status_code == 404
    assert (answer.status_code, answer.json()) == (404, nothing.json())


def test_metrics_are_served_to_prometheus_on_the_api_itself(deployment: Deployment) -> None:
    """Prometheus scrapes the API processes directly (with an admin key), never nginx."""
    answer = httpx.get(f"{deployment.cluster.clients[0].url}/metrics", timeout=30,
                       headers={"Authorization": f"Bearer {deployment.admin_key}"})

    assert answer.status_code == 200
    assert "micromailer_emails_total" in answer.text


def test_static_assets_come_through_with_their_cache_headers(deployment: Deployment) -> None:
    with deployment.client() as client:
        first = client.get("/static/app.css")
        again = client.get("/static/app.css", headers={"If-None-Match": first.headers["etag"]})

    assert first.status_code == 200
    assert first.content == (STATIC_DIR / "app.css").read_bytes()
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["content-type"].startswith("text/css")
    assert "content-security-policy" in first.headers
    assert again.status_code == 304


def test_an_api_that_does_not_answer_gets_a_json_502(tmp_path: Path) -> None:
    proxy = NginxProxy(tmp_path / "nginx", free_port()).start()
    try:
        answer = httpx.post(f"{proxy.url}/email", json={"to": "a@example.com"}, timeout=30)
    finally:
        proxy.stop()

    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["status"] == "failed"
    assert "Idempotency-Key" in answer.json()["error"]


# -- slow clients --------------------------------------------------------------------------


def connected(proxy: NginxProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=PATIENCE,
                                    source_address=(CLIENT_ADDRESS, 0))
    sock.settimeout(0.2)
    return sock


def closed_while_trickling(sock: socket.socket, chunks: Iterator[bytes]) -> bytes:
    """Send ``chunks`` one by one, a little apart, until the peer closes the connection;
    what it answered before closing. Fails if every chunk went out with the peer still
    there after :data:`PATIENCE` seconds."""
    received = b""
    deadline = time.monotonic() + PATIENCE
    for chunk in chunks:
        try:
            sock.sendall(chunk)
            while data := sock.recv(65536):
                received += data
            return received  # an orderly close
        except TimeoutError:
            pass  # nothing to read yet: keep trickling
        except (ConnectionResetError, BrokenPipeError):
            return received
        assert time.monotonic() < deadline, "nginx kept the trickling connection open"
    raise AssertionError("the chunks ran out with the connection still open")


def trickled(head: bytes, tail: bytes) -> Iterator[bytes]:
    """``head`` at once, then ``tail`` a byte at a time, then nothing more, forever."""
    yield head
    yield from (tail[n:n + 1] for n in range(len(tail)))
    while True:
        time.sleep(0.2)
        yield b""


def test_a_client_trickling_its_headers_is_cut_off(impatient: NginxProxy) -> None:
    """Headers sent a byte every 0.2 s keep the connection busy; nginx ends it when the whole
    header has not arrived within client_header_timeout, however busy it looks."""
    request_line = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{impatient.port}\r\n".encode()
    padding = ("X-Padding: " + "p" * 500 + "\r\n").encode()
    with connected(impatient) as sock:
        answer = closed_while_trickling(sock, trickled(request_line, padding))

    assert answer == b""
    assert "client timed out (110: Connection timed out) while reading client request headers" \
        in impatient.error_log()


def test_a_client_stalling_in_its_body_is_cut_off_before_micromailer_sees_it(
    deployment: Deployment, impatient: NginxProxy,
) -> None:
    """nginx reads the whole body before it passes the request on: a client that stops
    halfway holds nginx's connection until client_body_timeout, and no API process at all."""
    body = json.dumps({"to": "jane@example.com", "subject": "Stalled", "content": "Hi."}).encode()
    head = (f"POST /email?case=stalled-body HTTP/1.1\r\nHost: 127.0.0.1:{impatient.port}\r\n"
            f"Authorization: Bearer {deployment.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with connected(impatient) as sock:
        answer = closed_while_trickling(sock, trickled(head + body[:10], b""))

    assert answer == b""  # closed without an answer; the access log says 408
    assert '" 408 upstream=-' in impatient.access_log_line("case=stalled-body")
