"""End to end: ``micromailer run`` as a subprocess, real HTTP, real SQLite, real Celery."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.service import EmbeddedService, embedded_env

pytestmark = pytest.mark.e2e


def _post_mixed(service: EmbeddedService, count: int, tag: str) -> list[str]:
    """POST ``count`` emails, cycling JSON, urlencoded form and multipart form."""
    ids = []
    for n in range(count):
        fields = {"to": f"user{n}@example.com", "to_name": f"User {n}",
                  "subject": f"{tag} {n}", "content": f"# Hello {n}\n\nSome *Markdown*."}
        if n % 3 == 0:
            response = service.post_json(**fields)
        else:
            response = service.post_form(multipart=n % 3 == 2, **fields)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "queued"
        assert response.headers["location"] == f"/email/{body['emailId']}"
        ids.append(body["emailId"])
    return ids


def test_a_hundred_emails_in_json_and_forms_are_all_sent(service: EmbeddedService) -> None:
    ids = _post_mixed(service, 100, "batch")

    final = service.wait_final(ids)

    assert {body["status"] for body in final.values()} == {"sent"}
    assert {body["provider"] for body in final.values()} == {"sendgrid"}
    captured = service.captured("sendgrid")
    subjects = {message["subject"] for message in captured}
    assert subjects == {f"batch {n}" for n in range(100)}
    one = final[ids[0]]
    assert one["attempts"][0]["provider"] == "sendgrid"
    assert one["attempts"][0]["outcome"] == "sent"
    assert "<h1>Hello 0</h1>" in next(m for m in captured if m["subject"] == "batch 0")["html"]


def test_a_sendgrid_outage_fails_over_to_mandrill_and_lowers_its_score(
    service: EmbeddedService,
) -> None:
    service.set_faults("sendgrid", failRate=1.0, status=503)

    ids = _post_mixed(service, 10, "outage")
    final = service.wait_final(ids)

    assert {body["status"] for body in final.values()} == {"sent"}
    assert {body["provider"] for body in final.values()} == {"mandrill"}
    tries = [attempt for body in final.values() for attempt in body["attempts"]]
    failed_sendgrid = [t for t in tries if t["provider"] == "sendgrid"]
    assert failed_sendgrid, "the outage was never noticed"
    assert all(t["outcome"] == "failed" and "503" in t["error"] for t in failed_sendgrid)
    scores = {row["name"]: row["score"] for row in _eventually_scores(service)}
    assert scores["sendgrid"] < scores["mandrill"]
    cli = subprocess.run(
        [sys.executable, "-m", "micromailer", "providers", "--json"],
        env=embedded_env(service.data_dir), capture_output=True, text=True, check=True,
    )
    rows = {row["name"]: row for row in json.loads(cli.stdout)}
    assert rows["sendgrid"]["score"] < rows["mandrill"]["score"]
    assert rows["sendgrid"]["baseScore"] == 50 and rows["mandrill"]["baseScore"] == 49


def _eventually_scores(service: EmbeddedService) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while True:
        rows = service.providers()
        scores = {row["name"]: row["score"] for row in rows}
        if scores["sendgrid"] < scores["mandrill"] or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_with_every_provider_down_an_email_fails_after_three_attempts_with_every_reason(
    service: EmbeddedService,
) -> None:
    service.set_faults("sendgrid", failRate=1.0, status=503)
    service.set_faults("mandrill", failRate=1.0, status=500)

    response = service.post_json(to="a@example.com", subject="doomed", content="x")
    email_id = response.json()["emailId"]
    body = service.wait_final([email_id])[email_id]

    assert body["status"] == "failed"
    assert body["attemptCount"] == 3
    assert sorted({a["attempt"] for a in body["attempts"]}) == [1, 2, 3]
    assert len(body["attempts"]) == 6, "each attempt tries both providers"
    assert all(a["outcome"] == "failed" and a["error"] for a in body["attempts"])
    assert "gave up after 3 attempts" in body["error"]
    assert "sendgrid" in body["error"] and "mandrill" in body["error"]


def test_a_recipient_rejected_by_the_provider_fails_at_once(service: EmbeddedService) -> None:
    service.set_faults("sendgrid", failRate=1.0, status=503)  # force Mandrill, which rejects

    email_id = service.post_json(
        to="reject-me@example.com", subject="bounce", content="x"
    ).json()["emailId"]
    body = service.wait_final([email_id])[email_id]

    assert body["status"] == "failed"
    assert body["attemptCount"] == 1
    assert body["attempts"][-1]["outcome"] == "recipient_rejected"


def test_every_accepted_email_is_sent_after_the_process_tree_is_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    service = EmbeddedService(data_dir, MICROMAILER_WORKER_CONCURRENCY="4").start()
    try:
        service.set_faults("sendgrid", latencyMs=400)  # about 10 emails a second
        ids = _post_mixed(service, 100, "crash")
        _wait_for_some_sent(service, ids, at_least=5)
        service.kill_tree()
    finally:
        service.stop()
    sent_before = _count_sent(data_dir, ids)
    assert sent_before < len(ids), "the kill came too late to prove anything"

    restarted = EmbeddedService(data_dir, port=service.port, sandbox_port=service.sandbox_port)
    restarted.start()
    try:
        final = restarted.wait_final(ids, timeout=120)
    finally:
        restarted.stop()
    assert {body["status"] for body in final.values()} == {"sent"}


def _wait_for_some_sent(service: EmbeddedService, ids: list[str], at_least: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(service.captured("sendgrid")) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} emails were sent in 30 s")


def _count_sent(data_dir: Path, ids: list[str]) -> int:
    from micromailer.store.emails import EmailStore
    from micromailer.store.engine import make_engine

    store = EmailStore(make_engine(f"sqlite:///{data_dir}/micromailer.sqlite3"))
    views = [store.get_email(email_id) for email_id in ids]
    store.engine.dispose()
    return sum(1 for view in views if view is not None and view.status == "sent")


def _post_chunked(url: str, chunks: int, chunk_size: int) -> bytes:
    """POST a JSON body of ``chunks`` chunks with ``Transfer-Encoding: chunked`` (no length)
    over a raw socket; the raw response, read until the server closes or the body is in."""
    parsed = httpx.URL(url)
    with socket.create_connection((parsed.host, parsed.port), timeout=10) as conn:
        conn.sendall(
            b"POST /email HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        piece = b"%x\r\n%s\r\n" % (chunk_size, b"x" * chunk_size)
        try:
            for _ in range(chunks):
                conn.sendall(piece)
            conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before the end of the body and hung up, as it may
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
        return received


def test_a_chunked_body_over_the_limit_gets_413_from_the_real_server(
    service: EmbeddedService,
) -> None:
    before = service.http.get(f"{service.url}/emails").json()

    # 15 MiB without a length: over the limit that a 10 MiB message implies (13,910 KiB)
    raw = _post_chunked(service.url, chunks=240, chunk_size=64 * 1024)

    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), raw[:300]
    assert b"connection: close" in head.lower()  # the rest of the body is never read
    assert "larger than 13910 KiB" in json.loads(body)["error"]
    assert service.http.get(f"{service.url}/emails").json() == before
    assert service.post_json(to="ada@example.com", subject="after", content="ok").status_code == 202
