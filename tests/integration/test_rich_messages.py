"""Messages beyond one recipient and Markdown: every recipient, a sender of the deployment's
domains, HTML and text given directly, attachments (JSON and multipart), headers, tags and
metadata, through the real app on a real SQLite store; the limits refuse before storing."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.store.migrate import upgrade

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(reversed(range(256))) * 3


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


RICH: dict[str, Any] = {
    "to": ["Ada Lovelace <ada@example.com>", {"email": "bob@example.com", "name": "Bob"}],
    "cc": "carol@example.com, \"Doe, Dan\" <dan@example.com>",
    "bcc": ["eve@example.com"],
    "reply_to": "help@example.org",
    "from": "Billing <billing@example.org>",
    "subject": "Your receipt",
    "html": '<p>Thanks</p><img src="cid:logo">',
    "text": "Thanks",
    "attachments": [
        {"filename": "receipt.pdf", "contentType": "application/pdf", "content": b64(PDF)},
        {"filename": "logo.png", "contentType": "image/png", "content": b64(PNG),
         "contentId": "logo"},
    ],
    "headers": {"X-Campaign": "spring", "List-Unsubscribe": "<mailto:unsubscribe@example.org>"},
    "tags": ["receipt", "q4"],
    "metadata": {"order": "42"},
}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path, sender_domains="example.org",  # type: ignore[call-arg]
                    _env_file=None, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def rows(settings: Settings, query: str) -> list[Any]:
    engine = create_engine(settings.store_url)
    with engine.connect() as connection:
        found = list(connection.execute(text(query)))
    engine.dispose()
    return found


def test_a_rich_email_is_stored_once_and_shown_with_every_recipient_and_attachment(
    client: TestClient, settings: Settings
) -> None:
    answer = client.post("/email", json=RICH)
    assert answer.status_code == 202, answer.text
    email_id = answer.json()["emailId"]

    shown = client.get(f"/email/{email_id}").json()
    assert shown["to"] == "ada@example.com" and shown["toName"] == "Ada Lovelace"
    assert shown["recipients"] == {
        "to": [{"email": "ada@example.com", "name": "Ada Lovelace"},
               {"email": "bob@example.com", "name": "Bob"}],
        "cc": [{"email": "carol@example.com", "name": None},
               {"email": "dan@example.com", "name": "Doe, Dan"}],
        "bcc": [{"email": "eve@example.com", "name": None}],
    }
    assert shown["replyTo"] == [{"email": "help@example.org", "name": None}]
    assert shown["from"] == {"email": "billing@example.org", "name": "Billing"}
    assert shown["attachments"] == [
        {"filename": "receipt.pdf", "contentType": "application/pdf", "size": len(PDF),
         "contentId": None},
        {"filename": "logo.png", "contentType": "image/png", "size": len(PNG),
         "contentId": "logo"},
    ]
    assert shown["tags"] == ["receipt", "q4"] and shown["metadata"] == {"order": "42"}
    assert b64(PDF) not in answer.text + str(shown)  # the content is never shown

    stored = rows(settings, "SELECT filename, content FROM email_attachments "
                            f"WHERE email_id = '{email_id}' ORDER BY position")
    assert [(name, bytes(content)) for name, content in stored] == [
        ("receipt.pdf", PDF), ("logo.png", PNG)]


def test_a_plain_email_stores_no_envelope_and_is_shown_as_before(
    client: TestClient, settings: Settings
) -> None:
    answer = client.post("/email", json={"to": "ada@example.com", "to_name": "Ada",
                                         "subject": "Hi", "content": "**hi**"})
    email_id = answer.json()["emailId"]

    assert rows(settings, f"SELECT envelope FROM emails WHERE id = '{email_id}'") == [(None,)]
    shown = client.get(f"/email/{email_id}").json()
    assert shown["recipients"] == {"to": [{"email": "ada@example.com", "name": "Ada"}],
                                   "cc": [], "bcc": []}
    assert shown["attachments"] == [] and shown["from"]["email"] == settings.sender_email


def test_multipart_files_become_attachments_byte_for_byte(
    client: TestClient, settings: Settings
) -> None:
    answer = client.post(
        "/email",
        data={"to": "ada@example.com", "cc": "bob@example.com, carol@example.com",
              "subject": "Files", "content": "See the files.", "tags": "a,b"},
        files=[("attachments", ("receipt.pdf", PDF, "application/pdf")),
               ("inline", ("logo", PNG, "image/png"))],
    )
    assert answer.status_code == 202, answer.text
    shown = client.get(f"/email/{answer.json()['emailId']}").json()

    assert [item["email"] for item in shown["recipients"]["cc"]] == [
        "bob@example.com", "carol@example.com"]
    assert [(item["filename"], item["size"], item["contentId"])
            for item in shown["attachments"]] == [
        ("receipt.pdf", len(PDF), None), ("logo", len(PNG), "logo")]
    stored = rows(settings, "SELECT content FROM email_attachments ORDER BY position")
    assert [hashlib.sha256(bytes(row[0])).hexdigest() for row in stored] == [
        hashlib.sha256(PDF).hexdigest(), hashlib.sha256(PNG).hexdigest()]


def test_a_text_part_where_a_file_belongs_is_refused(client: TestClient) -> None:
    answer = client.post("/email", files={"to": (None, "ada@example.com"),
                                          "subject": (None, "s"), "content": (None, "c"),
                                          "attachments": (None, "not a file")})
    assert answer.status_code == 400
    assert answer.json()["error"] == "`attachments` must be a file part of the form, not text."


@pytest.mark.parametrize(("sender", "status"), [
    ("billing@example.org", 202), ("Billing <billing@EXAMPLE.org>", 202),
    ("ceo@example.com", 400), ("billing@example.org.attacker.com", 400),
])
def test_from_must_be_of_the_sender_domains(
    client: TestClient, settings: Settings, sender: str, status: int
) -> None:
    answer = client.post("/email", json={"to": "ada@example.com", "from": sender,
                                         "subject": "s", "content": "c"})
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["details"][0]["field"] == "from"
        assert "MICROMAILER_SENDER_DOMAINS" in answer.json()["error"]
        assert rows(settings, "SELECT count(*) FROM emails") == [(0,)]


def test_too_many_recipients_are_refused_before_storing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_recipients=3)
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/email", json={"to": ["a@example.com", "b@example.com"],
                                             "cc": ["c@example.com", "d@example.com"],
                                             "subject": "s", "content": "c"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("The message has 4 recipients (to, cc and bcc")
    assert "MICROMAILER_MAX_RECIPIENTS" in answer.json()["error"]
    assert rows(settings, "SELECT count(*) FROM emails") == [(0,)]


def test_a_message_over_the_size_limit_is_refused_before_storing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_message_bytes=64 * 1024)
    upgrade(settings.store_url)
    big = bytes(70 * 1024)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/email", json={
            "to": "ada@example.com", "subject": "s", "text": "big file",
            "attachments": [{"filename": "zeros.bin", "contentType": "application/octet-stream",
                             "content": b64(big)}]})
    assert answer.status_code == 400
    assert "MICROMAILER_MAX_MESSAGE_BYTES" in answer.json()["error"]
    assert rows(settings, "SELECT count(*) FROM emails") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM email_attachments") == [(0,)]


def test_the_body_limit_follows_the_message_limit() -> None:
    small = Settings(max_message_bytes=1024 * 1024, _env_file=None)  # type: ignore[call-arg]
    default = Settings(_env_file=None)  # type: ignore[call-arg]
    assert small.max_body_bytes == (1024 * 1024 * 4 // 3 + 256 * 1024 + 1023) // 1024 * 1024
    assert default.max_body_bytes == 13910 * 1024
    assert default.max_body_bytes > default.max_message_bytes * 4 // 3


@pytest.mark.parametrize(("field", "value", "sentence"), [
    ("headers", {"Bcc": "spy@example.com"}, "`headers` may not set Bcc"),
    ("headers", {"X-Mailgun-Variables": "{}"}, "`headers` may not set X-Mailgun-Variables"),
    ("metadata", {"email_id": "x"}, "`metadata` may not set email_id"),
    ("tags", ["ok", "not ok"], "`tags` has 'not ok'"),
    ("attachments", [{"filename": "../etc/passwd", "contentType": "text/plain",
                      "content": "aGk="}], "must be a file name, not a path"),
    ("attachments", [{"filename": "a.txt", "contentType": "text/plain", "content": "aGk"}],
     "is not valid base64"),
])
def test_bad_extras_get_a_sentence_and_nothing_is_stored(
    client: TestClient, settings: Settings, field: str, value: object, sentence: str
) -> None:
    answer = client.post("/email", json={"to": "ada@example.com", "subject": "s",
                                         "content": "c", field: value})
    assert answer.status_code == 400
    assert sentence in answer.json()["error"]
    assert rows(settings, "SELECT count(*) FROM emails") == [(0,)]


def test_content_and_html_together_are_refused(client: TestClient) -> None:
    answer = client.post("/email", json={"to": "ada@example.com", "subject": "s",
                                         "content": "c", "html": "<p>h</p>"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("Give either `content`")
