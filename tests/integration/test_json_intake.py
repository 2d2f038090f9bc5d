"""``JsonIntake``: the JSON ``POST /email`` fast path answers exactly as the route does.

Each test runs the real app on a real store and, where it compares, the same app built without
the middleware (``route_client``), which answers every request through ``create_email``.
``route_calls`` counts the requests ``create_email`` read, to tell which path answered.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from micromailer.api import payload
from micromailer.api.app import create_app
from micromailer.api.errors import STORE_UNAVAILABLE
from micromailer.api.routes import emails
from micromailer.config import Settings
from micromailer.store.migrate import upgrade

VALID = {"to": "ada@example.com", "to_name": "Ada", "subject": "Hi", "content": "**bold**"}
JSON = {"content-type": "application/json"}


@pytest.fixture
def route_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The content types of the requests ``create_email`` read."""
    calls: list[str] = []

    async def counted(request: object) -> dict[str, object]:
        calls.append(request.headers.get("content-type", ""))  # type: ignore[attr-defined]
        return await payload.read_payload(request)  # type: ignore[arg-type]

    monkeypatch.setattr(emails, "read_payload", counted)
    return calls


@pytest.fixture
def route_client(tmp_path: Path) -> Iterator[TestClient]:
    """The app without ``JsonIntake``, on a store of its own."""
    settings = Settings(data_dir=tmp_path / "route", _env_file=None)  # type: ignore[call-arg]
    upgrade(settings.store_url)
    app = create_app(settings, json_intake=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def lenient_client(client: TestClient) -> TestClient:
    """``client``, answering a 500 instead of raising the server's exception in the test."""
    return TestClient(client.app, raise_server_exceptions=False)


def _count_emails(settings: Settings) -> int:
    engine = create_engine(settings.store_url)
    with engine.connect() as connection:
        count: int = connection.execute(text("SELECT count(*) FROM emails")).scalar_one()
    engine.dispose()
    return count


def _answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, every header in order and the body bytes, the email id replaced by ``<id>``."""
    content = response.content
    headers = response.headers.multi_items()
    if response.status_code == 202:
        email_id = response.json()["emailId"]
        content = content.replace(email_id.encode(), b"<id>")
        headers = [(name, value.replace(email_id, "<id>")) for name, value in headers]
    return response.status_code, headers, content


def _post_json(client: TestClient, body: bytes, content_type: str = "application/json",
               ) -> httpx.Response:
    return client.post("/email", content=body, headers={"content-type": content_type})


def _chunked(app: ASGIApp, size: int) -> ASGIApp:
    """``app`` receiving each request body in ``http.request`` messages of ``size`` bytes."""

    async def split(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        pending: list[Message] = []

        async def pieces() -> Message:
            if not pending:
                message = await receive()
                body = message.get("body", b"")
                if message["type"] != "http.request" or len(body) <= size:
                    return message
                pending.extend(
                    {"type": "http.request", "body": body[i : i + size], "more_body": True}
                    for i in range(0, len(body), size)
                )
                pending[-1]["more_body"] = message.get("more_body", False)
            return pending.pop(0)

        await app(scope, pieces, send)

    return split


# -- the fast path ----------------------------------------------------------------------------


def test_a_valid_json_email_gets_the_routes_202_byte_for_byte(
    client: TestClient, route_client: TestClient, route_calls: list[str]
) -> None:
    fast = client.post("/email", json=VALID)
    assert route_calls == []  # answered by the middleware
    routed = route_client.post("/email", json=VALID)
    assert route_calls == ["application/json"]

    assert _answer(fast) == _answer(routed)
    email_id = fast.json()["emailId"]
    assert uuid.UUID(email_id).version == 4
    assert fast.json() == {"status": "queued", "emailId": email_id}
    assert fast.headers["location"] == f"/email/{email_id}"
    assert fast.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == str(len(fast.content))


def test_the_email_is_stored_and_readable_right_after_the_202(
    client: TestClient, settings: Settings, route_calls: list[str]
) -> None:
    accepted = client.post("/email", json={**VALID, "to": " Ada@Example.com "})
    assert accepted.status_code == 202
    assert route_calls == []

    shown = client.get(accepted.headers["location"])
    assert shown.status_code == 200
    body = shown.json()
    assert body["emailId"] == accepted.json()["emailId"]
    assert body["status"] == "queued"
    assert (body["to"], body["toName"], body["subject"]) == ("Ada@example.com", "Ada", "Hi")
    assert _count_emails(settings) == 1


def test_the_202_is_answered_in_front_of_every_middleware(
    client: TestClient, route_calls: list[str]
) -> None:
    """The fast path runs before FastAPI's layers; any other request goes through them."""
    app = client.app
    seen: list[str] = []

    def counting(inner: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(scope["path"])
            await inner(scope, receive, send)
        return counted

    app.middleware_stack = None  # type: ignore[attr-defined]
    app.add_middleware(counting)  # type: ignore[attr-defined]

    assert client.post("/email", json=VALID).status_code == 202
    assert seen == []
    assert client.get("/healthz").status_code == 200
    assert seen == ["/healthz"]
    assert route_calls == []


def test_a_body_in_several_messages_is_read_whole(
    client: TestClient, settings: Settings, route_calls: list[str]
) -> None:
    content = "# Long\n\n" + "A line of the email's Markdown.\n" * 200
    raw = json.dumps({**VALID, "content": content}).encode()
    chunked = TestClient(_chunked(client.app, size=100))

    accepted = _post_json(chunked, raw)

    assert accepted.status_code == 202, accepted.text
    assert route_calls == []  # a first chunk alone is not JSON: the route would have answered
    email_id = accepted.json()["emailId"]
    with create_engine(settings.store_url).connect() as connection:
        stored = connection.execute(
            text("SELECT content FROM emails WHERE id = :id"), {"id": email_id}
        ).scalar_one()
    assert stored == content


@pytest.mark.parametrize(
    ("content_type", "fast"),
    [
        ("application/json", True),
        ("Application/JSON ; charset=utf-8", True),
        ("application/merge+json", True),
        ("application/vnd.micromailer.email+json; version=1", True),
        ("text/json", False),
        ("application/jsonl", False),
        ("text/plain", False),
        ("", False),
    ],
)
def test_json_media_types_follow_the_routes_rule(
    client: TestClient, route_client: TestClient, route_calls: list[str],
    content_type: str, fast: bool,
) -> None:
    raw = json.dumps(VALID).encode()
    headers = {"content-type": content_type} if content_type else {}

    answered = client.post("/email", content=raw, headers=headers)
    by_middleware = route_calls == []
    routed = route_client.post("/email", content=raw, headers=headers)

    assert by_middleware is fast
    assert _answer(answered) == _answer(routed)
    assert answered.status_code == (202 if fast else 415)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_form_posts_are_left_to_the_route(
    client: TestClient, settings: Settings, route_calls: list[str], encoding: str
) -> None:
    if encoding == "urlencoded":
        response = client.post("/email", data=VALID)
    else:
        response = client.post("/email", files={k: (None, v) for k, v in VALID.items()})

    assert response.status_code == 202, response.text
    assert len(route_calls) == 1
    assert route_calls[0].startswith(
        "application/x-www-form-urlencoded" if encoding == "urlencoded" else "multipart/form-data"
    )
    assert _count_emails(settings) == 1


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/email"), ("POST", "/email/"), ("POST", "/emails")]
)
def test_other_methods_and_paths_are_left_to_the_app(
    client: TestClient, route_client: TestClient, method: str, path: str
) -> None:
    answered = client.request(method, path, json=VALID, follow_redirects=False)
    routed = route_client.request(method, path, json=VALID, follow_redirects=False)
    assert answered.status_code != 202
    assert _answer(answered) == _answer(routed)


# -- errors: the route's, never the middleware's ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        (b"{not json", "The body is not valid JSON (Expecting property name enclosed in double "
                       "quotes: line 1 column 2 (char 1)); send a JSON object."),
        (b"", "The body is not valid JSON (Expecting value: line 1 column 1 (char 0)); send a "
              "JSON object."),
        (json.dumps([VALID]).encode(),
         "The JSON body must be an object with `to`, `subject` and `content` fields."),
        (b'"ada@example.com"',
         "The JSON body must be an object with `to`, `subject` and `content` fields."),
        (json.dumps({k: v for k, v in VALID.items() if k != "content"}).encode(),
         "`content` is required."),
        (json.dumps({"to": "ada@example.com"}).encode(),
         "`subject` is required (and 1 more problem)."),
        (json.dumps({**VALID, "subject": "Hi\r\nBcc: x@example.com"}).encode(),
         "`subject` must be a single line without control characters such as CR or LF, which "
         "could inject mail headers."),
    ],
)
def test_bad_json_gets_the_routes_400_sentence_and_nothing_is_stored(
    client: TestClient, route_client: TestClient, settings: Settings, route_calls: list[str],
    raw: bytes, sentence: str,
) -> None:
    answered = _post_json(client, raw)

    assert route_calls == ["application/json"]  # replayed to the route, which answered
    assert answered.status_code == 400
    assert answered.json()["error"] == sentence
    assert _answer(answered) == _answer(_post_json(route_client, raw))
    assert _count_emails(settings) == 0


def test_bad_json_in_several_messages_is_replayed_whole(
    client: TestClient, route_client: TestClient, route_calls: list[str]
) -> None:
    raw = json.dumps({**VALID, "to": "nobody", "content": "x" * 5000}).encode()

    answered = _post_json(TestClient(_chunked(client.app, size=1000)), raw)

    assert route_calls == ["application/json"]
    assert answered.status_code == 400
    assert answered.json()["error"].startswith("`to` must be a valid email address")
    assert _answer(answered) == _answer(_post_json(route_client, raw))


@pytest.mark.parametrize("chunk", [64 * 1024, 2 * 1024 * 1024])
def test_an_oversized_body_without_a_length_gets_the_routes_413(
    client: TestClient, route_client: TestClient, settings: Settings, route_calls: list[str],
    chunk: int,
) -> None:
    """No Content-Length: the limit is hit while reading, by the first message or a later one."""
    raw = json.dumps({**VALID, "content": "x" * (1024 * 1024 + 10)}).encode()

    def body() -> Iterator[bytes]:  # a generator: sent chunked, without a Content-Length
        yield raw

    answered = _chunked(client.app, size=chunk)
    response = TestClient(answered).post("/email", content=body(), headers=JSON)
    routed = TestClient(_chunked(route_client.app, size=chunk)).post(
        "/email", content=body(), headers=JSON
    )

    assert response.status_code == 413
    assert response.json() == {
        "status": "failed",
        "error": "The request body is larger than 1024 KiB; send a shorter email.",
        "details": [],
    }
    assert route_calls == ["application/json", "application/json"]
    assert _answer(response) == _answer(routed)
    assert _count_emails(settings) == 0


def test_an_oversized_body_with_a_length_still_gets_the_413(
    client: TestClient, settings: Settings, route_calls: list[str]
) -> None:
    response = client.post("/email", json={**VALID, "content": "x" * (1024 * 1024 + 10)})
    assert response.status_code == 413
    assert response.json()["error"] == (
        "The request body is larger than 1024 KiB; send a shorter email."
    )
    assert route_calls == []  # left to the app unread: BodySizeLimit answered
    assert _count_emails(settings) == 0


def _store_down(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    def add_emails(*_: object) -> None:
        raise OperationalError("INSERT INTO emails", {}, Exception("database is locked"))

    monkeypatch.setattr(app.state.services.store, "add_emails", add_emails)


def test_a_store_down_gets_the_routes_503(
    client: TestClient, route_client: TestClient, settings: Settings, route_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _store_down(client.app, monkeypatch)  # type: ignore[arg-type]
    _store_down(route_client.app, monkeypatch)  # type: ignore[arg-type]

    response = client.post("/email", json=VALID)

    assert route_calls == []  # not replayed: the route would only try again
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "error": STORE_UNAVAILABLE, "details": []}
    assert response.headers["retry-after"] == "5"
    assert _answer(response) == _answer(route_client.post("/email", json=VALID))
    assert _count_emails(settings) == 0


def test_a_failure_after_the_commit_is_not_replayed_and_stores_one_email(
    client: TestClient, lenient_client: TestClient, route_client: TestClient,
    settings: Settings, route_calls: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The email is stored, then ``accept`` fails: answered as the route answers (500), once."""
    for app in (client.app, route_client.app):
        store = app.state.services.store  # type: ignore[attr-defined]

        def stored_then_failed(news: object, add_emails: object = store.add_emails) -> None:
            add_emails(news)  # type: ignore[operator]
            raise RuntimeError("lost after the commit")

        monkeypatch.setattr(store, "add_emails", stored_then_failed)

    response = lenient_client.post("/email", json=VALID)

    assert route_calls == []
    assert response.status_code == 500
    assert response.json()["error"] == "An internal error occurred; it has been logged."
    assert _answer(response) == _answer(route_client.post("/email", json=VALID))
    assert _count_emails(settings) == 1
