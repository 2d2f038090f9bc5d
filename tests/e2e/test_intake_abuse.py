"""Cheap abusive requests against the real server: a short answer, a short log, no traceback.

``micromailer run`` as a subprocess; its log file is read after each burst, once it has stopped
growing.
"""

from __future__ import annotations

import socket
import time

import httpx

from tests.support.service import EmbeddedService

ABORTS = 20


def new_log_lines(service: EmbeddedService, start: int) -> list[str]:
    """The lines the service logged after ``start`` bytes, once its log is quiet for 1 s."""
    path = service.managed.log_path
    size, quiet_since = path.stat().st_size, time.monotonic()
    deadline = time.monotonic() + 15
    while time.monotonic() - quiet_since < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        if path.stat().st_size != size:
            size, quiet_since = path.stat().st_size, time.monotonic()
    with path.open("rb") as log:
        log.seek(start)
        return log.read().decode("utf-8", "replace").splitlines()


def api_lines(lines: list[str]) -> list[str]:
    """The lines the API and uvicorn wrote (the worker may still be logging its start)."""
    return [line for line in lines
            if " micromailer.api" in line or line.startswith(("INFO:", "WARNING:", "ERROR:"))]


def settled_log_size(service: EmbeddedService) -> int:
    """The log's size once the worker is up and the log has been quiet for a second."""
    service.managed.wait_log("worker ready")
    new_log_lines(service, 0)
    return service.managed.log_path.stat().st_size


def abort_upload(port: int) -> None:
    """Declare 100 bytes, send 5, close the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /email HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{\"to\""
        )


def test_aborted_uploads_log_one_short_line_each_and_no_traceback(
    service: EmbeddedService,
) -> None:
    start = settled_log_size(service)
    for _ in range(ABORTS):
        abort_upload(service.port)

    lines = new_log_lines(service, start)

    assert httpx.get(f"{service.url}/healthz", timeout=5).status_code == 200
    assert not [line for line in lines if "Traceback" in line or "ERROR" in line], lines
    from_the_api = api_lines(lines)
    assert len(from_the_api) <= ABORTS, from_the_api
    assert all(len(line) <= 200 for line in from_the_api), from_the_api


def test_json_nested_1000_deep_gets_a_400_sentence_and_one_log_line(
    service: EmbeddedService,
) -> None:
    body = (
        '{"to":"jane@example.com","subject":"s","content":"c","x":' + "[" * 1000 + "]" * 1000
        + "}"
    )
    start = settled_log_size(service)

    answer = httpx.post(f"{service.url}/email", content=body,
                        headers={"content-type": "application/json"}, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "The JSON body is nested more than 32 levels deep; an email's fields are strings."
    )
    lines = new_log_lines(service, start)
    assert not any("Traceback" in line for line in lines), lines
    from_the_api = api_lines(lines)
    assert len(from_the_api) <= 1 and all(len(line) <= 200 for line in from_the_api), lines
