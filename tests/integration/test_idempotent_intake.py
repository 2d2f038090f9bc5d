"""``Idempotency-Key`` through the real app (in process) on a real SQLite store and broker:
replays, conflicts, refusals that free the key, and the audit row of every accepted email."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from micromailer.api.errors import STORE_UNAVAILABLE
from micromailer.api.intake.idempotency import KEY_REUSED, KEY_TAKEN_OVER
from micromailer.config import Settings
from micromailer.domain.idempotency import KEY_SYNTAX, ReservationLost
from tests.integration.test_email_intake import ENCODINGS, post, refused

VALID = {"to": "ada@example.com", "to_name": "Ada", "subject": "Receipt", "content": "**Paid**"}


def rows(settings: Settings, query: str) -> list[Any]:
    engine = create_engine(settings.store_url)
    with engine.connect() as connection:
        found = list(connection.execute(text(query)))
    engine.dispose()
    return found


def emails(settings: Settings) -> int:
    count: int = rows(settings, "SELECT count(*) FROM emails")[0][0]
    return count


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_retry_gets_the_first_answer_byte_for_byte_and_nothing_new_is_stored(
    client: TestClient, settings: Settings, encoding: str,
) -> None:
    key = str(uuid.uuid4())
    first = post(client, "json", VALID, **keyed(key))
    again = post(client, encoding, VALID, **keyed(key))  # the same fields, however encoded

    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert emails(settings) == 1


def test_the_same_key_with_another_request_is_a_409_and_stores_nothing(
    client: TestClient, settings: Settings,
) -> None:
    post(client, "json", VALID, **keyed("order-7"))

    other = post(client, "json", {**VALID, "subject": "Another"}, **keyed("order-7"))

    assert refused(other, 409) == KEY_REUSED
    assert emails(settings) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve"])
def test_a_malformed_key_is_a_400_that_says_what_a_key_is(
    client: TestClient, settings: Settings, key: str,
) -> None:
    answer = client.post("/email", json=VALID,
                         headers=[(b"idempotency-key", key.encode("utf-8"))])

    assert refused(answer, 400) == KEY_SYNTAX
    assert answer.json()["details"] == [{"field": "Idempotency-Key", "message": KEY_SYNTAX}]
    assert emails(settings) == 0
    assert rows(settings, "SELECT count(*) FROM idempotency_keys")[0][0] == 0


def test_an_invalid_request_does_not_take_the_key(client: TestClient, settings: Settings) -> None:
    invalid = post(client, "json", {**VALID, "to": "not an address"}, **keyed("order-8"))
    corrected = post(client, "json", VALID, **keyed("order-8"))

    assert invalid.status_code == 400
    assert corrected.status_code == 202


def test_a_request_the_store_refused_gives_its_key_back(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = client.app.state.services.store  # type: ignore[attr-defined]

    def down(*_: object) -> None:
        raise OperationalError("INSERT INTO emails", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "add_emails", down)
    failed = post(client, "json", VALID, **keyed("order-9"))
    monkeypatch.undo()
    retried = post(client, "json", {**VALID, "subject": "Corrected"}, **keyed("order-9"))

    assert refused(failed, 503) == STORE_UNAVAILABLE
    assert retried.status_code == 202, retried.text
    assert emails(settings) == 1


def test_a_request_whose_key_was_taken_over_is_told_so(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def lost(*_: object) -> None:
        raise ReservationLost("id")

    monkeypatch.setattr(client.app.state.services.intake, "accept", lost)  # type: ignore[attr-defined]

    assert refused(post(client, "json", VALID, **keyed("order-10")), 409) == KEY_TAKEN_OVER


def test_without_the_header_the_keys_are_never_asked(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def never(*_: object, **__: object) -> None:
        raise AssertionError("a request without Idempotency-Key asked for one")

    monkeypatch.setattr(client.app.state.services.idempotency, "claim", never)  # type: ignore[attr-defined]

    assert post(client, "json", VALID).status_code == 202
    assert rows(settings, "SELECT count(*) FROM idempotency_keys")[0][0] == 0


def test_every_accepted_email_has_its_audit_row_and_a_replay_adds_none(
    client: TestClient, settings: Settings,
) -> None:
    first = post(client, "json", VALID, **keyed("order-11")).json()["emailId"]
    post(client, "json", VALID, **keyed("order-11"))
    second = post(client, "multipart", VALID).json()["emailId"]

    audited = rows(settings, "SELECT kind, key_name, project, client, email_id, "
                             "idempotency_key, detail FROM audit_events ORDER BY id")
    assert [tuple(row) for row in audited] == [
        ("email.accepted", None, None, "testclient", first, "order-11", None),
        ("email.accepted", None, None, "testclient", second, None, None),
    ]


def test_a_replay_answers_even_after_the_email_changed_status(
    client: TestClient, settings: Settings,
) -> None:
    """The kept answer is the first one, not the email's state now."""
    first: httpx.Response = post(client, "json", VALID, **keyed("order-12"))
    engine = create_engine(settings.store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE emails SET status = 'sent'"))
    engine.dispose()

    assert post(client, "json", VALID, **keyed("order-12")).content == first.content
