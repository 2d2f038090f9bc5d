"""The audit log over real HTTP against ``micromailer run``, read back with ``micromailer audit``:
key events and accepted emails with who sent them, never what; a flood of bad keys sampled."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.keys import create_key, keys_command
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

SUBJECT = "Zanzibar subject 8841"
CONTENT = "Quetzal content 5521 with **Markdown**"
RECIPIENT = "walrus.recipient@example.com"
IDEMPOTENCY_KEY = "order-audit-1"
#: The client a trusted proxy forwards for.
CLIENT = "203.0.113.5"
#: Refused authentications the API records one by one in a minute (security/audit.py).
PER_MINUTE = 60
FLOOD = 500


def audit_command(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "micromailer", "audit", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def audit_json(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(audit_command(env, "--json", *args))
    return events


def table_dump(service: EmbeddedService) -> str:
    with sqlite3.connect(service.data_dir / "micromailer.sqlite3") as connection:
        return "\n".join(repr(row) for row in connection.execute("SELECT * FROM audit_events"))


def until_refusals_are_written(service: EmbeddedService) -> None:
    """Poll until the writer thread has written the refused request (it flushes every second),
    so the log no longer changes between two reads."""
    for _ in range(100):
        if any(event["kind"] == "auth.refused" for event in audit_json(service.env)):
            return
        time.sleep(0.1)
    raise AssertionError("the refused request was never written")


def until_authentication_is_on(service: EmbeddedService) -> int:
    """Poll until a request without a key is refused; how many were refused (one)."""
    for _ in range(100):
        if service.post_json(to="a@example.com", subject="s", content="c").status_code == 401:
            return 1
    raise AssertionError("authentication never turned on")


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedService, str, str]]:
    """A service behind a trusted proxy (this host) where a key was made, used for one email
    forwarded for a client, and another key made and revoked."""
    service = EmbeddedService(tmp_path_factory.mktemp("audit") / "var",
                              MICROMAILER_TRUSTED_PROXIES="127.0.0.1").start()
    try:
        key = create_key(service.env, "shop-ci", "--project", "shop")
        create_key(service.env, "temp")
        assert keys_command(service.env, "revoke", "temp").returncode == 0
        until_authentication_is_on(service)
        answer = service.as_key(key).http.post(
            f"{service.url}/email",
            json={"to": RECIPIENT, "subject": SUBJECT, "content": CONTENT},
            headers={"Idempotency-Key": IDEMPOTENCY_KEY, "X-Forwarded-For": CLIENT},
        )
        assert answer.status_code == 202, answer.text
        until_refusals_are_written(service)
        yield service, key, answer.json()["emailId"]
    finally:
        service.stop()


def test_key_events_and_the_accepted_email_say_who_when_and_from_where(
    sent: tuple[EmbeddedService, str, str],
) -> None:
    service, _, email_id = sent

    events = audit_json(service.env)

    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_kind.setdefault(event["kind"], []).append(event)
    created = {event["keyName"]: event for event in by_kind["key.created"]}
    assert created["shop-ci"]["project"] == "shop" and created["temp"]["project"] == "temp"
    assert [(e["keyName"], e["project"]) for e in by_kind["key.revoked"]] == [("temp", "temp")]
    [accepted] = by_kind["email.accepted"]
    assert accepted == {
        "at": accepted["at"], "kind": "email.accepted", "keyName": "shop-ci", "project": "shop",
        "client": CLIENT, "emailId": email_id, "idempotencyKey": IDEMPOTENCY_KEY,
        "detail": None,
    }
    assert [event["at"] for event in events] == sorted(event["at"] for event in events)


def test_the_plain_output_has_one_line_per_event_and_the_filters_work(
    sent: tuple[EmbeddedService, str, str],
) -> None:
    service, _, email_id = sent
    everything = audit_json(service.env)

    lines = audit_command(service.env).splitlines()

    assert len(lines) == len(everything)
    accepted = next(line for line in lines if " email.accepted " in line)
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ email\.accepted ", accepted)
    assert (f"key=shop-ci project=shop client={CLIENT} email={email_id} "
            f"idempotency-key={IDEMPOTENCY_KEY}") in accepted
    assert audit_json(service.env, "--since", "1h") == everything
    assert audit_json(service.env, "--since", "2999-01-01T00:00:00Z") == []
    assert audit_json(service.env, "--limit", "1") == everything[-1:]


def test_the_audit_log_holds_no_content_and_no_secret(
    sent: tuple[EmbeddedService, str, str],
) -> None:
    service, key, _ = sent

    for text in (table_dump(service), audit_command(service.env),
                 json.dumps(audit_json(service.env))):
        for secret in (SUBJECT, "Zanzibar", CONTENT, "Quetzal", RECIPIENT, "walrus", key,
                       key[12:]):
            assert secret not in text


def test_a_flood_of_bad_keys_leaves_a_bounded_sample_and_the_count(
    service: EmbeddedService,
) -> None:
    create_key(service.env, "real")
    refused = until_authentication_is_on(service)
    wrong = "mm_live_" + "W" * 43

    def one(n: int) -> int:
        headers = {"Authorization": f"Bearer {wrong}"} if n % 2 else {}
        return httpx.post(f"{service.url}/email", headers=headers, timeout=30,
                          json={"to": "a@example.com", "subject": "s", "content": "c"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(FLOOD)))
    assert statuses.count(401) == FLOOD
    refused += FLOOD
    service.stop()  # closing writes the current minute's count

    events = audit_json(service.env, "--limit", "100000")
    one_by_one = [e for e in events if e["kind"] == "auth.refused"]
    summaries = [e for e in events if e["kind"] == "auth.refused.unsampled"]
    minutes = {e["at"][:16] for e in one_by_one}
    assert len(one_by_one) <= PER_MINUTE * len(minutes) and len(minutes) <= 2
    counted = sum(int(e["detail"].split()[0]) for e in summaries)
    assert len(one_by_one) + counted == refused
    assert all(e["client"] == "127.0.0.1" for e in one_by_one)
    assert wrong not in table_dump(service)
    assert {e["detail"] for e in one_by_one} <= {
        "This API needs an API key: send it as `Authorization: Bearer <key>` (an operator "
        "makes one with `micromailer keys create NAME`).",
        "This API key is not valid: it is unknown or was revoked. (key mm_live_WWWW…)",
    }
