"""``POST /email`` has one path (``api/intake``), the same for JSON, urlencoded and multipart.

Each test runs the real app on a real SQLite store and broker and sends the same email in every
encoding: the answers, the stored rows, the intake checks and the refusals must not depend on
how the body was encoded, and no ``POST /email`` may reach FastAPI's stack (where a second way
in could hide).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from micromailer.api.errors import STORE_UNAVAILABLE
from micromailer.api.intake import IntakeRefused, IntakeRequest
from micromailer.config import Settings

VALID = {"to": "ada@example.com", "to_name": "Ada", "subject": "Hi", "content": "**bold**"}
ENCODINGS = ["json", "urlencoded", "multipart"]
BOUNDARY = "----intake-test"


def encode(encoding: str, fields: list[tuple[str, str | bytes]]) -> tuple[bytes, str]:
    """The body and Content-Type of ``fields`` (in order, repeats kept) in ``encoding``."""
    if encoding == "json":
        items = [f"{json.dumps(name)}:{json.dumps(value)}" for name, value in fields]
        return ("{" + ",".join(items) + "}").encode(), "application/json"
    if encoding == "urlencoded":
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    parts = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + (value if isinstance(value, bytes) else value.encode()) + b"\r\n"
        for name, value in fields
    )
    return parts + f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def post(client: TestClient, encoding: str, fields: dict[str, str] | list[tuple[str, Any]],
         **headers: str) -> httpx.Response:
    items = list(fields.items()) if isinstance(fields, dict) else fields
    body, content_type = encode(encoding, items)
    return client.post("/email", content=body, headers={"content-type": content_type, **headers})


def count_emails(settings: Settings) -> int:
    engine = create_engine(settings.store_url)
    with engine.connect() as connection:
        count: int = connection.execute(text("SELECT count(*) FROM emails")).scalar_one()
    engine.dispose()
    return count


def server_log(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the service logged (not the test client)."""
    return [record for record in caplog.records
            if record.name.split(".")[0] in {"micromailer", "uvicorn", "starlette", "fastapi"}]


def refused(response: httpx.Response, status: int) -> str:
    """The refusal's sentence, after checking its shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "failed" and isinstance(body["details"], list), body
    assert response.headers["content-type"] == "application/json"
    sentence: str = body["error"]
    return sentence


@pytest.fixture
def stack_calls(client: TestClient) -> list[str]:
    """The paths of the HTTP requests that reached FastAPI's middleware stack."""
    app: FastAPI = client.app  # type: ignore[assignment]
    seen: list[str] = []

    def counting(inner: ASGIApp) -> ASGIApp:
        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(f"{scope['method']} {scope['path']}")
            await inner(scope, receive, send)
        return counted

    app.middleware_stack = None
    app.add_middleware(counting)
    return seen


@pytest.fixture
def lenient(client: TestClient) -> TestClient:
    """``client``, answering a 500 instead of raising the server's exception in the test."""
    return TestClient(client.app, raise_server_exceptions=False)


def chunked(app: ASGIApp, size: int) -> ASGIApp:
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


# -- one path, every encoding ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_gets_the_same_202_and_stores_the_same_email(
    client: TestClient, settings: Settings, stack_calls: list[str], encoding: str
) -> None:
    accepted = post(client, encoding, {**VALID, "to": " Ada@Example.com ", "to_name": "Zoë"})

    assert accepted.status_code == 202, accepted.text
    email_id = accepted.json()["emailId"]
    assert uuid.UUID(email_id).version == 4
    assert accepted.content == f'{{"status":"queued","emailId":"{email_id}"}}'.encode()
    assert accepted.headers.multi_items() == [
        ("location", f"/email/{email_id}"),
        ("content-length", str(len(accepted.content))),
        ("content-type", "application/json"),
    ]
    shown = client.get(accepted.headers["location"]).json()
    assert (shown["to"], shown["toName"], shown["subject"], shown["status"]) == (
        "Ada@example.com", "Zoë", "Hi", "queued"
    )
    assert count_emails(settings) == 1
    assert stack_calls == [f"GET /email/{email_id}"]  # the POST never reached FastAPI


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_no_post_email_reaches_fastapi_even_when_refused(
    client: TestClient, stack_calls: list[str], encoding: str
) -> None:
    refused(post(client, encoding, {"to": "nobody"}), 400)
    refused(post(client, encoding, VALID, **{"content-encoding": "gzip"}), 415)
    assert stack_calls == []
    client.get("/healthz")
    client.put("/email", json=VALID)
    assert stack_calls == ["GET /healthz", "PUT /email"]


def test_the_route_only_documents_the_operation(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/email"]["post"]
    assert operation["operationId"] == "create_email_email_post"
    assert set(operation["requestBody"]["content"]) == {
        "application/json", "application/x-www-form-urlencoded", "multipart/form-data"
    }


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_body_in_several_messages_is_read_whole(
    client: TestClient, settings: Settings, encoding: str
) -> None:
    content = "# Long\n\n" + "A line of the email's Markdown.\n" * 200
    in_pieces = TestClient(chunked(client.app, size=100))
    accepted = post(in_pieces, encoding, {**VALID, "content": content})

    assert accepted.status_code == 202, accepted.text
    with create_engine(settings.store_url).connect() as connection:
        stored = connection.execute(
            text("SELECT content FROM emails WHERE id = :id"), {"id": accepted.json()["emailId"]}
        ).scalar_one()
    assert stored == content


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 202),
        ("Application/JSON ; charset=utf-8", 202),
        ("application/merge+json", 202),
        ("application/vnd.micromailer.email+json; version=1", 202),
        ("text/json", 415),
        ("application/jsonl", 415),
        ("text/plain", 415),
        ("", 415),
    ],
)
def test_json_media_types(client: TestClient, content_type: str, status: int) -> None:
    headers = {"content-type": content_type} if content_type else {}
    answer = client.post("/email", content=json.dumps(VALID).encode(), headers=headers)
    assert answer.status_code == status
    if status == 415:
        shown = content_type.split(";")[0].strip().lower() or "none"
        assert answer.json()["error"] == (
            f"Content-Type {shown} is not supported; send application/json, "
            "application/x-www-form-urlencoded or multipart/form-data."
        )


# -- intake checks -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_intake_check_sees_every_encoding_and_its_refusal_is_the_answer(
    client: TestClient, settings: Settings, encoding: str
) -> None:
    seen: list[IntakeRequest] = []

    async def rate_limited(request: IntakeRequest) -> None:
        seen.append(request)
        if request.headers.get("x-test-key") == "over":
            raise IntakeRefused(429, "Too many emails; wait a second.",
                                headers={"Retry-After": "1"})

    client.app.state.services.intake_checks.append(rate_limited)  # type: ignore[attr-defined]

    answer = post(client, encoding, VALID, **{"x-test-key": "over"})
    assert refused(answer, 429) == "Too many emails; wait a second."
    assert answer.headers["retry-after"] == "1"
    assert count_emails(settings) == 0

    assert post(client, encoding, VALID, **{"x-test-key": "fine"}).status_code == 202
    assert count_emails(settings) == 1
    body, _ = encode(encoding, list(VALID.items()))
    assert [request.body for request in seen] == [body, body]
    assert seen[0].client is not None


def test_checks_run_in_order_and_the_first_refusal_wins(client: TestClient) -> None:
    calls: list[str] = []

    def check(name: str, refuse: bool) -> Callable[[IntakeRequest], Any]:
        async def run(_: IntakeRequest) -> None:
            calls.append(name)
            if refuse:
                raise IntakeRefused(401, f"{name} refused.")
        return run

    checks = client.app.state.services.intake_checks  # type: ignore[attr-defined]
    checks.extend([check("auth", False), check("limit", True), check("idempotency", True)])

    assert refused(client.post("/email", json=VALID), 401) == "limit refused."
    assert calls == ["auth", "limit"]


# -- refusals: the same sentence in every encoding -----------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({**VALID, "subject": "Invoice \u202egpj.exe"},
         "`subject` must not contain U+202E (a bidirectional control); it goes into a mail "
         "header, which must be one line of visible text."),
        ({**VALID, "to_name": "\u2066Ada\u2069"},
         "`to_name` must not contain U+2066 (a bidirectional control); it goes into a mail "
         "header, which must be one line of visible text."),
        ({**VALID, "subject": "\ufeffHi"},
         "`subject` must not contain U+FEFF (an invisible character); it goes into a mail "
         "header, which must be one line of visible text."),
        ({**VALID, "to_name": "A\u200bda"},
         "`to_name` must not contain U+200B (an invisible character); it goes into a mail "
         "header, which must be one line of visible text."),
        ({**VALID, "to": "a" * 65 + "@example.com"},
         "`to` must be a valid email address: The email address is too long before the "
         "@-sign (1 character too many)."),
        ({**VALID, "subject": "Hi\r\nBcc: x@example.com"},
         "`subject` must not contain U+000D (a control character); it goes into a mail "
         "header, which must be one line of visible text."),
        ({"to": "ada@example.com"}, "`subject` is required (and 1 more problem)."),
    ],
)
def test_invalid_fields_get_the_same_400_in_every_encoding_and_nothing_is_stored(
    client: TestClient, settings: Settings, encoding: str, fields: dict[str, str],
    sentence: str,
) -> None:
    assert refused(post(client, encoding, fields), 400) == sentence
    assert count_emails(settings) == 0


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_field_named_twice_is_refused_naming_it(
    client: TestClient, settings: Settings, encoding: str
) -> None:
    """Refused rather than resolved: JSON parsers keep the last, form parsers the first."""
    fields = [*VALID.items(), ("subject", "Other")]
    answer = post(client, encoding, fields)
    where = "JSON body" if encoding == "json" else "form"
    extra = " in one object" if encoding == "json" else ""
    assert refused(answer, 400) == (
        f"The {where} names `subject` twice{extra}; send each field once."
    )
    assert answer.json()["details"][0]["field"] == "subject"
    assert count_emails(settings) == 0


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
@pytest.mark.parametrize("raw", [b"Caf\xe9", b"\xff\xfe", b"\xc3"])
def test_a_form_field_that_is_not_utf8_is_refused_by_name(
    client: TestClient, settings: Settings, encoding: str, raw: bytes
) -> None:
    """Today's browsers send UTF-8; Latin-1 bytes used to be stored as mojibake."""
    if encoding == "urlencoded":
        body = urlencode(list(VALID.items())).encode().replace(b"subject=Hi", b"subject=" + raw)
        answer = client.post("/email", content=body,
                             headers={"content-type": "application/x-www-form-urlencoded"})
    else:
        answer = post(client, encoding, [*((k, v) for k, v in VALID.items() if k != "subject"),
                                         ("subject", raw)])
    assert refused(answer, 400) == "`subject` is not valid UTF-8; send the form encoded as UTF-8."
    assert count_emails(settings) == 0


def test_a_percent_encoded_byte_that_is_not_utf8_is_refused(client: TestClient) -> None:
    body = b"to=ada%40example.com&subject=Caf%E9&content=x"
    answer = client.post("/email", content=body,
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused(answer, 400) == "`subject` is not valid UTF-8; send the form encoded as UTF-8."


def test_json_that_is_not_utf8_is_refused_with_the_byte(client: TestClient) -> None:
    body = json.dumps({**VALID, "subject": "Caf\u00e9"}, ensure_ascii=False).encode("latin-1")
    position = body.index("\u00e9".encode("latin-1"))
    answer = client.post("/email", content=body, headers={"content-type": "application/json"})
    assert refused(answer, 400) == (
        f"The body is not valid UTF-8 (byte 0xe9 at position {position}); "
        "send JSON encoded as UTF-8."
    )


def test_a_file_where_text_belongs_is_refused_by_name(client: TestClient) -> None:
    files = {"to": (None, "ada@example.com"), "subject": (None, "Hi"),
             "content": ("notes.txt", b"# hello", "text/plain")}
    answer = client.post("/email", files=files)
    assert refused(answer, 400) == "`content` must be text, not a file upload (notes.txt)."
    assert answer.json()["details"] == [
        {"field": "content", "message": "`content` must be text, not a file upload (notes.txt)."}
    ]


def test_a_file_part_under_another_name_is_ignored(client: TestClient) -> None:
    files = {**{name: (None, value) for name, value in VALID.items()},
             "attachment": ("a.bin", b"\x00\xff\xfe", "application/octet-stream")}
    assert client.post("/email", files=files).status_code == 202


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        (b"", "The body is not valid JSON (Expecting value: line 1 column 1 (char 0)); send a "
              "JSON object."),
        (b"{not json", "The body is not valid JSON (Expecting property name enclosed in double "
                       "quotes: line 1 column 2 (char 1)); send a JSON object."),
        (json.dumps([VALID]).encode(),
         "The JSON body must be an object with `to`, `subject` and `content` fields."),
        (json.dumps({**VALID, "x": 1}).replace('"x": 1', '"x": ' + "9" * 5000).encode(),
         "A number in the JSON body is 5000 digits long; numbers may have at most 100 digits."),
        (json.dumps({**VALID, "to": -int("9" * 101)}).encode(),
         "A number in the JSON body is 101 digits long; numbers may have at most 100 digits."),
        (b'{"to":"jane@example.com","subject":"s","content":"c","x":'
         + b"[" * 1000 + b"]" * 1000 + b"}",
         "The JSON body is nested more than 32 levels deep; an email's fields are strings."),
        (b'{"to":"jane@example.com","subject":"s","content":"c","x":'
         + b'{"a":' * 32 + b"1" + b"}" * 32 + b"}",
         "The JSON body is nested more than 32 levels deep; an email's fields are strings."),
        (b'{"to":"jane@example.com","subject":"s","content":"c","x":' + b"[" * 5000,
         "The JSON body is nested more than 32 levels deep; an email's fields are strings."),
    ],
    ids=["empty", "not-json", "array", "5000-digits", "101-digits", "1000-deep", "33-deep",
         "unclosed"],
)
def test_bad_json_gets_a_400_sentence_one_log_line_at_most_and_stores_nothing(
    lenient: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture, body: bytes,
    sentence: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = lenient.post("/email", content=body, headers={"content-type": "application/json"})
    assert refused(answer, 400) == sentence
    assert count_emails(settings) == 0
    assert len(server_log(caplog)) <= 1
    assert not any(record.exc_info for record in caplog.records)


def test_json_nested_32_deep_in_an_ignored_field_is_fine(client: TestClient) -> None:
    body = json.dumps({**VALID, "x": 1}).replace('"x": 1', '"x": ' + "[" * 31 + "]" * 31)
    assert client.post("/email", content=body.encode(),
                       headers={"content-type": "application/json"}).status_code == 202


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("coding", ["gzip", "br", "deflate", "gzip, identity"])
def test_a_compressed_body_gets_415_saying_the_encoding_is_not_supported(
    client: TestClient, encoding: str, coding: str
) -> None:
    answer = post(client, encoding, VALID, **{"content-encoding": coding})
    assert refused(answer, 415) == (
        f"Content-Encoding {coding} is not supported; send the body uncompressed."
    )


def test_content_encoding_identity_is_accepted(client: TestClient) -> None:
    assert post(client, "json", VALID, **{"content-encoding": "identity"}).status_code == 202


@pytest.mark.parametrize(
    ("body", "content_type", "sentence"),
    [
        (b"--x\r\n", "multipart/form-data",
         "The multipart Content-Type has no boundary; send the header your HTTP client builds "
         "for the form."),
        (encode("multipart", list(VALID.items()))[0][:-30],
         f"multipart/form-data; boundary={BOUNDARY}",
         "The multipart body ends before its closing boundary; send the whole form."),
    ],
)
def test_a_broken_multipart_body_gets_a_400_sentence(
    client: TestClient, body: bytes, content_type: str, sentence: str
) -> None:
    answer = client.post("/email", content=body, headers={"content-type": content_type})
    assert refused(answer, 400) == sentence


# -- sizes, the store, the unexpected ----------------------------------------------------------

LIMIT = Settings(_env_file=None).max_body_bytes  # type: ignore[call-arg]
TOO_LARGE = f"The request body is larger than {LIMIT // 1024} KiB; send a shorter email."


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_body_declared_too_long_gets_413_and_closes(
    client: TestClient, settings: Settings, encoding: str
) -> None:
    answer = post(client, encoding, {**VALID, "content": "x" * (LIMIT + 10)})
    assert refused(answer, 413) == TOO_LARGE
    assert answer.headers["connection"] == "close"
    assert count_emails(settings) == 0


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("chunk", [64 * 1024, 16 * 1024 * 1024])
def test_a_body_without_a_length_gets_413_once_over_the_limit(
    client: TestClient, settings: Settings, encoding: str, chunk: int
) -> None:
    body, content_type = encode(encoding, list({**VALID, "content": "x" * LIMIT}.items()))

    def stream() -> Iterator[bytes]:  # a generator: sent chunked, without a Content-Length
        yield body

    answer = TestClient(chunked(client.app, size=chunk)).post(
        "/email", content=stream(), headers={"content-type": content_type}
    )
    assert refused(answer, 413) == TOO_LARGE
    assert answer.headers["connection"] == "close"
    assert count_emails(settings) == 0


def _store_down(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    def add_emails(*_: object) -> None:
        raise OperationalError("INSERT INTO emails", {}, Exception("database is locked"))

    monkeypatch.setattr(app.state.services.store, "add_emails", add_emails)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_store_down_gets_503_in_every_encoding(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    _store_down(client.app, monkeypatch)  # type: ignore[arg-type]
    answer = post(client, encoding, VALID)
    assert answer.json() == {"status": "failed", "error": STORE_UNAVAILABLE, "details": []}
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert count_emails(settings) == 0


def test_a_failure_after_the_commit_is_a_500_logged_once(
    lenient: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = lenient.app.state.services.store  # type: ignore[attr-defined]

    def stored_then_failed(news: object, add_emails: Any = store.add_emails) -> None:
        add_emails(news)
        raise RuntimeError("lost after the commit")

    monkeypatch.setattr(store, "add_emails", stored_then_failed)
    answer = lenient.post("/email", json=VALID)

    assert refused(answer, 500) == "An internal error occurred; it has been logged."
    assert count_emails(settings) == 1
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1 and logged[0].getMessage() == "unexpected error on POST /email"


@pytest.mark.parametrize("sent", [b"", b'{"to"'])
def test_a_client_that_leaves_mid_body_gets_no_answer_and_one_short_log_line(
    client: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture, sent: bytes
) -> None:
    """``Content-Length: 100``, a few bytes, then the connection closes."""
    caplog.set_level(logging.DEBUG)
    messages: list[Message] = [
        {"type": "http.request", "body": sent, "more_body": True},
        {"type": "http.disconnect"},
    ]
    answered: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        answered.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/email", "raw_path": b"/email", "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                    (b"content-length", b"100")],
    }
    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr]

    assert answered == []
    assert count_emails(settings) == 0
    assert len(server_log(caplog)) <= 1
    assert all(not record.exc_info and len(record.getMessage()) < 120
               for record in caplog.records)
