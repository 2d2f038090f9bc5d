"""SparkPostAdapter against the fake SparkPost over real HTTP; its body against the documented
fields (SparkPost publishes no JSON schema: :data:`TRANSMISSION_SCHEMA` is written from its
API Blueprint, CONTRACTS.md section 6)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import SecretStr

from micromailer.config import Settings
from micromailer.domain.message import Address, Attachment, Message
from micromailer.providers.errors import (
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
)
from micromailer.providers.sparkpost import (
    ERROR_CODE_CLASSES,
    MAX_TAGS,
    STATUS_CLASSES,
    SparkPostAdapter,
    build_payload,
)
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import (
    SANDBOX_KEYS,
    RequestRecorder,
    failed_send,
    make_message,
    sandbox_messages,
    schema_errors,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]
KEY = SANDBOX_KEYS["sparkpost"]
BINARY = bytes(range(256)) * 2

_STRING = {"type": "string"}
_FILE = {
    "type": "object",
    "required": ["name", "type", "data"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "type": {"type": "string", "minLength": 1},
        "data": {"type": "string", "pattern": r"^[A-Za-z0-9+/]*={0,2}$"},
    },
    "additionalProperties": False,
}
_ADDRESS = {
    "type": "object",
    "required": ["email"],
    "properties": {"email": {"type": "string", "format": "email"}, "name": _STRING,
                   "header_to": _STRING},
    "additionalProperties": False,
}
#: The transmission body as transmissions.apib ("Request Body", "Content Attributes",
#: "Attachment Object", "Inline Image Object") and recipient-lists.apib ("Recipient Object",
#: "Address Object") document it: checked against the documented fields, no official schema
#: available.
TRANSMISSION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["recipients", "content"],
    "properties": {
        "recipients": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["address"],
            "properties": {
                "address": {"oneOf": [{"type": "string", "format": "email"}, _ADDRESS]},
                "tags": {"type": "array", "items": _STRING, "maxItems": MAX_TAGS},
                "metadata": {"type": "object"},
                "substitution_data": {"type": "object"},
                "return_path": _STRING,
            },
            "additionalProperties": False,
        }},
        "content": {
            "type": "object",
            "required": ["from", "subject"],
            "anyOf": [{"required": ["html"]}, {"required": ["text"]}],
            "properties": {
                "from": {"oneOf": [_STRING, {
                    "type": "object", "required": ["email"],
                    "properties": {"email": _STRING, "name": _STRING},
                    "additionalProperties": False,
                }]},
                "subject": {"type": "string", "minLength": 1},
                "html": _STRING,
                "text": _STRING,
                "amp_html": _STRING,
                "reply_to": _STRING,
                "headers": {
                    "type": "object",
                    "additionalProperties": _STRING,
                    "propertyNames": {"not": {"pattern": "(?i)^(subject|from|to|reply-to|"
                                                         "content-type|content-transfer-encoding)$"}},
                },
                "attachments": {"type": "array", "items": _FILE},
                "inline_images": {"type": "array", "items": _FILE},
            },
            "additionalProperties": False,
        },
        "metadata": {"type": "object"},
        "campaign_id": {"type": "string", "maxLength": 64},
        "description": _STRING,
        "options": {"type": "object"},
        "substitution_data": {"type": "object"},
        "return_path": _STRING,
    },
    "additionalProperties": False,
}


@pytest.fixture(scope="session")
def transmission_schema() -> Draft202012Validator:
    Draft202012Validator.check_schema(TRANSMISSION_SCHEMA)
    return Draft202012Validator(
        TRANSMISSION_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture
def adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> SparkPostAdapter:
    return SparkPostAdapter(api_key=KEY, base_url=sandbox.url, client=http_client)


def captured(control: httpx.Client) -> list[dict[str, Any]]:
    return sandbox_messages(control, "sparkpost")


def rich_message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "cc": (Address("carol@example.com", "Carol"),),
        "bcc": (Address("hidden@example.net"),),
        "reply_to": (Address("help@example.org", "Help desk"),),
        "attachments": (
            Attachment("report.pdf", "application/pdf", BINARY),
            Attachment("logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + BINARY, "logo-1"),
        ),
        "html": '<p>Hi <img src="cid:logo-1"></p>',
        "headers": (("X-Campaign", "spring"),),
        "tags": ("welcome", "receipt"),
        "metadata": (("user", "42"),),
    }
    fields.update(overrides)
    return make_message(**fields)


# -- success ------------------------------------------------------------------------------


def test_send_returns_the_transmission_id_and_the_fake_captures_the_message(
    adapter: SparkPostAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "sparkpost"
    assert result.message_id and result.message_id.isdigit()
    [stored] = captured(control)
    assert stored["messageId"] == result.message_id
    assert (stored["to"], stored["toName"], stored["field"]) == (
        message.to[0].email, message.to[0].name, "to"
    )
    assert (stored["fromEmail"], stored["fromName"]) == (message.sender.email, message.sender.name)
    assert (stored["subject"], stored["html"], stored["text"]) == (
        message.subject, message.html, message.text
    )
    assert stored["metadata"] == {"email_id": message.email_id}
    assert control.get("/_sandbox/sparkpost/stats").json() == {"accepted": 1, "rejected": 0}


def test_the_key_travels_raw_in_authorization_and_never_in_the_body(
    adapter: SparkPostAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message())

    request = recorder.last
    assert (request.method, request.url.path) == ("POST", "/api/v1/transmissions")
    assert request.headers["authorization"] == KEY
    assert request.headers["content-type"] == "application/json"
    assert KEY.encode() not in request.content


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (KEY, 200),
        ("Basic " + base64.b64encode(f"{KEY}:".encode()).decode(), 200),
        (f"Bearer {KEY}", 401),
        ("", 401),
    ],
    ids=["raw", "basic", "bearer", "missing"],
)
def test_the_fake_takes_the_raw_key_or_basic_and_nothing_else(
    sandbox: SandboxThread, control: httpx.Client, authorization: str, status: int
) -> None:
    response = httpx.post(f"{sandbox.url}/api/v1/transmissions",
                          json=build_payload(make_message()),
                          headers={"Authorization": authorization})

    assert response.status_code == status


def test_wrong_key_is_auth_error_and_the_key_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = SparkPostAdapter(api_key="wrong-secret", base_url=sandbox.url, client=http_client)

    error = failed_send(adapter, AuthError)

    assert (error.status_code, error.reason) == (401, "Unauthorized.")
    assert "wrong-secret" not in str(error) + error.body + repr(adapter)
    assert control.get("/_sandbox/sparkpost/stats").json() == {"accepted": 0, "rejected": 1}


@pytest.mark.parametrize(
    ("region", "origin"),
    [("us", "https://api.sparkpost.com"), ("eu", "https://api.eu.sparkpost.com")],
)
def test_the_region_picks_the_us_or_eu_origin(region: str, origin: str) -> None:
    settings = Settings(sparkpost_api_key=SecretStr("k"), sparkpost_region=region)

    assert settings.base_url("sparkpost") == origin


# -- the body against the documented fields -------------------------------------------------


@pytest.mark.parametrize("message", [make_message(), rich_message()], ids=["plain", "rich"])
def test_request_body_validates_against_the_documented_fields(
    adapter: SparkPostAdapter, recorder: RequestRecorder,
    transmission_schema: Draft202012Validator, message: Message,
) -> None:
    adapter.send(message)

    assert schema_errors(transmission_schema, recorder.last_json()) == []


def test_schema_check_is_not_vacuous(transmission_schema: Draft202012Validator) -> None:
    """The same validator refuses a body without recipients, a misspelt field, a Subject
    header and an attachment without data."""
    body = build_payload(rich_message())
    del body["recipients"]
    body["content"]["reply-to"] = "x@example.org"
    body["content"]["headers"]["Subject"] = "no"
    del body["content"]["attachments"][0]["data"]

    assert len(schema_errors(transmission_schema, body)) == 4


def test_an_invalid_body_is_refused_by_the_fake_in_sparkposts_format(
    adapter: SparkPostAdapter,
) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        adapter.send(make_message(subject=""))

    assert caught.value.status_code == 422
    assert caught.value.reason == "required field is missing: content.subject is a required field"
    assert '"code":"1400"' in caught.value.body


# -- what the body carries --------------------------------------------------------------------


def test_cc_and_bcc_are_recipients_shown_sparkposts_way_and_bcc_is_in_no_header(
    adapter: SparkPostAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    shown_to = "Alice Example <alice@example.com>"
    assert [r["address"] for r in body["recipients"]] == [
        {"email": "alice@example.com", "name": "Alice Example", "header_to": shown_to},
        {"email": "carol@example.com", "name": "Carol", "header_to": shown_to},
        {"email": "hidden@example.net", "header_to": shown_to},
    ]
    assert body["content"]["headers"]["CC"] == "Carol <carol@example.com>"
    assert "hidden@example.net" not in str(body["content"])
    assert [(m["to"], m["field"]) for m in captured(control)] == [
        ("alice@example.com", "to"), ("carol@example.com", "cc"), ("hidden@example.net", "bcc"),
    ]


def test_attachments_and_the_inline_image_arrive_byte_for_byte(
    adapter: SparkPostAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    content = recorder.last_json()["content"]
    assert [item["name"] for item in content["attachments"]] == ["report.pdf"]
    assert [item["name"] for item in content["inline_images"]] == ["logo-1"]
    stored = captured(control)[0]["attachments"]
    by_id = {item["contentId"] or item["filename"]: item for item in stored}
    for attachment in message.attachments:
        got = by_id[attachment.content_id or attachment.filename]
        assert got["sha256"] == hashlib.sha256(attachment.content).hexdigest()
        assert got["contentType"] == attachment.content_type
    assert by_id["logo-1"]["contentId"] == "logo-1"


def test_reply_to_headers_tags_and_metadata_are_passed(
    adapter: SparkPostAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    body = recorder.last_json()
    assert body["content"]["reply_to"] == "Help desk <help@example.org>"
    assert body["content"]["headers"]["X-Campaign"] == "spring"
    assert body["metadata"] == {"user": "42", "email_id": message.email_id}
    assert all(r["tags"] == ["welcome", "receipt"] for r in body["recipients"])
    stored = captured(control)[0]
    assert stored["replyTo"] == ["Help desk <help@example.org>"]
    assert stored["tags"] == ["welcome", "receipt"]
    assert stored["metadata"] == {"user": "42", "email_id": message.email_id}


def test_only_ten_tags_reach_a_recipient_and_email_id_cannot_be_overridden() -> None:
    message = make_message(tags=tuple(f"t{i}" for i in range(12)),
                           metadata=(("email_id", "forged"),))

    body = build_payload(message)

    assert body["recipients"][0]["tags"] == [f"t{i}" for i in range(MAX_TAGS)]
    assert body["metadata"] == {"email_id": message.email_id}


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: SparkPostAdapter, set_faults: FaultSetter, status: int,
    expected: type[ProviderError],
) -> None:
    set_faults("sparkpost", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


def test_the_sending_limit_420_is_transient_and_names_the_limit(
    adapter: SparkPostAdapter, set_faults: FaultSetter
) -> None:
    set_faults("sparkpost", failRate=1.0, status=420)

    error = failed_send(adapter, RateLimitedError)

    assert error.transient
    assert error.reason == "Exceed Sending Limit: Sending limits exceeded"


def answering(status: int, body: Any) -> SparkPostAdapter:
    """An adapter whose every call gets this answer (what the fake cannot be asked for)."""
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json=body))
    client = httpx.Client(transport=transport)
    return SparkPostAdapter(api_key="k", base_url="https://api.sparkpost.test", client=client)


@pytest.mark.parametrize(("code", "expected"), table_rows(ERROR_CODE_CLASSES))
def test_each_error_code_of_the_table_raises_its_class(
    code: str, expected: type[ProviderError]
) -> None:
    body = {"errors": [{"message": "m", "description": "d", "code": code}]}

    with pytest.raises(expected) as caught:
        answering(400, body).send(make_message())

    assert type(caught.value) is expected
    assert caught.value.reason == "m: d"


def test_a_suppressed_recipient_from_the_fake_is_a_refused_recipient(
    adapter: SparkPostAdapter,
) -> None:
    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(make_message(to_email="perm-fail@simulator.micromailer.test"))

    assert caught.value.reason.startswith("Message generation rejected")


def test_a_200_that_accepted_no_recipient_is_a_refused_recipient() -> None:
    body = {"results": {"total_rejected_recipients": 1, "total_accepted_recipients": 0,
                        "id": "1"}}

    with pytest.raises(RecipientRejectedError):
        answering(200, body).send(make_message())


def test_429_is_rate_limited_with_retry_after(
    adapter: SparkPostAdapter, set_faults: FaultSetter
) -> None:
    set_faults("sparkpost", failRate=1.0, status=429, retryAfter=3)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 3.0


def test_429_without_retry_after_leaves_it_unknown(
    adapter: SparkPostAdapter, set_faults: FaultSetter
) -> None:
    set_faults("sparkpost", failRate=1.0, status=429)

    assert failed_send(adapter, RateLimitedError).retry_after is None


def test_the_table_covers_every_status_of_sparkposts_error_table() -> None:
    """index.apib "Error Table" (CONTRACTS.md section 6); there is no spec file to read."""
    documented = {400, 401, 403, 404, 405, 409, 413, 415, 420, 422, 429, 500, 503}

    assert documented <= set(STATUS_CLASSES)
