"""PostmarkAdapter against the fake Postmark over real HTTP; its body against the spec."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator

from micromailer.domain.message import Address, Attachment, Message
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.postmark import (
    ERROR_CODE_CLASSES,
    STATUS_CLASSES,
    PostmarkAdapter,
    build_payload,
)
from micromailer.sandbox import SandboxThread
from micromailer.sandbox.postmark import TEST_TOKEN
from tests.contract.helpers import (
    SANDBOX_KEYS,
    RequestRecorder,
    body_validator,
    failed_send,
    make_message,
    sandbox_messages,
    schema_errors,
    specs_dir,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]

POSTMARK_SPEC = "postmark/swagger.yaml"
REQUEST_DEFINITION = "SendEmailRequest"
#: Fields Postmark documents for ``/email`` that its (older) Swagger file lacks.
DOCUMENTED_BESIDES_THE_SPEC = {"Metadata", "MessageStream"}

PDF = b"%PDF-1.7\r\n\x00\xff\xfe binary"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> PostmarkAdapter:
    return PostmarkAdapter(
        api_key=SANDBOX_KEYS["postmark"], base_url=sandbox.url, client=http_client
    )


@pytest.fixture(scope="module")
def postmark_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((specs_dir() / POSTMARK_SPEC).read_text("utf-8"))
    return spec


@pytest.fixture(scope="module")
def body_schema(postmark_spec: dict[str, Any]) -> Draft202012Validator:
    """``SendEmailRequest``, found through the ``/email`` operation's body parameter.

    Swagger 2.0 schemas use a subset of JSON Schema (type, properties, items, enum, $ref)
    that the 2020-12 validator reads the same way."""
    [body] = [p for p in postmark_spec["paths"]["/email"]["post"]["parameters"]
              if p["in"] == "body"]
    assert body["schema"]["$ref"] == f"#/definitions/{REQUEST_DEFINITION}"
    return body_validator(postmark_spec, f"/definitions/{REQUEST_DEFINITION}")


def unknown_fields(spec: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """Fields of ``body`` (and of its attachments and headers) that neither the spec's
    definitions nor Postmark's current documentation know: the spec allows any, we do not."""
    definitions = spec["definitions"]
    known = set(definitions[REQUEST_DEFINITION]["properties"]) | DOCUMENTED_BESIDES_THE_SPEC
    unknown = [name for name in body if name not in known]
    for field, definition in (("Attachments", "Attachment"), ("Headers", "MessageHeader")):
        allowed = set(definitions[definition]["properties"])
        unknown += [f"{field}.{key}" for item in body.get(field, []) for key in item
                    if key not in allowed]
    return unknown


def captured(control: httpx.Client) -> list[dict[str, Any]]:
    return sandbox_messages(control, "postmark")


def rich_message(**overrides: Any) -> Message:
    """A message with every field Postmark can carry."""
    fields: dict[str, Any] = {
        "to": (Address("alice@example.com", "Alice Example"), Address("bob@example.com")),
        "cc": (Address("carol@example.com", "Carol, Accounts"),),
        "bcc": (Address("audit@example.org"),),
        "reply_to": (Address("help@example.org", "Help Desk"),),
        "html": '<p>Your receipt <img src="cid:logo-1"></p>',
        "attachments": (
            Attachment("receipt.pdf", "application/pdf", PDF),
            Attachment("logo.png", "image/png", PNG, content_id="logo-1"),
        ),
        "headers": (("X-Campaign", "spring"),),
        "tags": ("receipts", "spring"),
        "metadata": (("order", "A-42"),),
    }
    fields.update(overrides)
    return make_message(**fields)


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> PostmarkAdapter:
    """An adapter whose every call gets this one answer."""
    client = httpx.Client(transport=httpx.MockTransport(
        lambda _: httpx.Response(status, json=body, headers=headers)
    ))
    return PostmarkAdapter(api_key="k", base_url="https://api.postmark.test", client=client)


def failed_send_of(adapter: PostmarkAdapter, message: Message) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        adapter.send(message)
    return caught.value


# -- success ------------------------------------------------------------------------------


def test_send_returns_the_message_id_and_the_fake_captures_the_message(
    adapter: PostmarkAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "postmark"
    assert result.message_id and len(result.message_id) == 36
    assert (result.raw["ErrorCode"], result.raw["Message"]) == (0, "OK")
    [stored] = captured(control)
    assert stored["messageId"] == result.message_id
    assert (stored["to"], stored["toName"]) == (message.to[0].email, message.to[0].name)
    assert (stored["fromEmail"], stored["fromName"]) == (
        message.sender.email, message.sender.name
    )
    assert (stored["subject"], stored["html"], stored["text"]) == (
        message.subject, message.html, message.text
    )
    assert stored["metadata"] == {"email_id": message.email_id}
    assert control.get("/_sandbox/postmark/stats").json() == {"accepted": 1, "rejected": 0}


def test_request_carries_the_server_token_header_and_json(
    adapter: PostmarkAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message())

    request = recorder.last
    assert (request.method, request.url.path) == ("POST", "/email")
    assert request.headers["x-postmark-server-token"] == SANDBOX_KEYS["postmark"]
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert SANDBOX_KEYS["postmark"].encode() not in request.content


def test_the_test_token_is_answered_and_nothing_is_captured(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = PostmarkAdapter(api_key=TEST_TOKEN, base_url=sandbox.url, client=http_client)

    assert adapter.send(make_message()).message_id
    assert captured(control) == []


# -- the body against the spec --------------------------------------------------------------------


def test_request_body_validates_against_postmarks_swagger_definition(
    adapter: PostmarkAdapter, recorder: RequestRecorder, body_schema: Draft202012Validator,
    postmark_spec: dict[str, Any],
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    assert schema_errors(body_schema, body) == []
    assert unknown_fields(postmark_spec, body) == []


def test_schema_check_is_not_vacuous(
    body_schema: Draft202012Validator, postmark_spec: dict[str, Any]
) -> None:
    """The same checks refuse a list for ``To``, an object for ``Attachments``, a number for
    ``Tag``, and an attachment field the spec does not know."""
    body = build_payload(rich_message())
    body["To"] = ["alice@example.com"]
    body["Tag"] = 7
    headers = body["Headers"]
    body["Headers"] = {"X-Campaign": "spring"}

    assert len(schema_errors(body_schema, body)) == 3
    body["Headers"] = headers
    body["Attachments"][0]["Disposition"] = "inline"
    assert unknown_fields(postmark_spec, body) == ["Attachments.Disposition"]


# -- what the message carries -------------------------------------------------------------------


def test_cc_and_bcc_travel_in_their_fields_and_never_as_headers(
    adapter: PostmarkAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    assert body["From"] == "Example Billing <billing@example.org>"
    assert body["To"] == "Alice Example <alice@example.com>, bob@example.com"
    assert body["Cc"] == '"Carol, Accounts" <carol@example.com>'
    assert body["Bcc"] == "audit@example.org"
    assert not any(h["Name"].lower() in ("bcc", "cc", "to") for h in body["Headers"])
    assert "audit@example.org" not in str(body["Headers"])
    stored = captured(control)
    assert [(m["to"], m["field"]) for m in stored] == [
        ("alice@example.com", "to"), ("bob@example.com", "to"),
        ("carol@example.com", "cc"), ("audit@example.org", "bcc"),
    ]
    assert stored[0]["bcc"] == ["audit@example.org"]
    assert len({m["messageId"] for m in stored}) == 1


def test_attachments_arrive_byte_for_byte_and_the_inline_image_by_its_content_id(
    adapter: PostmarkAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    assert body["Attachments"] == [
        {"Name": "receipt.pdf", "Content": base64.b64encode(PDF).decode(),
         "ContentType": "application/pdf"},
        {"Name": "logo.png", "Content": base64.b64encode(PNG).decode(),
         "ContentType": "image/png", "ContentID": "cid:logo-1"},
    ]
    [first, *_] = captured(control)
    assert [(a["filename"], a["contentType"], a["contentId"], a["sha256"])
            for a in first["attachments"]] == [
        ("receipt.pdf", "application/pdf", None, hashlib.sha256(PDF).hexdigest()),
        ("logo.png", "image/png", "logo-1", hashlib.sha256(PNG).hexdigest()),
    ]
    assert 'src="cid:logo-1"' in first["html"]


def test_one_tag_metadata_with_the_email_id_reply_to_and_headers_are_passed(
    adapter: PostmarkAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    """Postmark takes one tag: the first is sent, the others are left out."""
    message = rich_message(metadata=(("order", "A-42"), ("email_id", "forged")))
    adapter.send(message)

    body = recorder.last_json()
    assert body["Tag"] == "receipts"
    assert body["Metadata"] == {"order": "A-42", "email_id": message.email_id}
    assert body["ReplyTo"] == "Help Desk <help@example.org>"
    assert body["Headers"] == [{"Name": "X-Campaign", "Value": "spring"}]
    stored = captured(control)[0]
    assert stored["tags"] == ["receipts"]
    assert stored["metadata"] == {"order": "A-42", "email_id": message.email_id}
    assert stored["replyTo"] == ["Help Desk <help@example.org>"]
    assert stored["headers"] == {"X-Campaign": "spring"}


def test_a_text_only_message_sends_no_html_body(
    adapter: PostmarkAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message(html=""))

    body = recorder.last_json()
    assert "HtmlBody" not in body and body["TextBody"] == "Thanks, Alice."
    assert "Cc" not in body and "Bcc" not in body and "Attachments" not in body


def test_capabilities_follow_postmarks_documented_limits() -> None:
    capabilities = PostmarkAdapter.capabilities
    to = tuple(Address(f"r{n}@example.com") for n in range(30))
    cc = tuple(Address(f"c{n}@example.com") for n in range(21))
    script = Attachment("setup.EXE", "application/octet-stream", b"MZ")

    assert capabilities.refusal(make_message(to=to, cc=cc)) is not None  # 51 in all
    assert capabilities.refusal(make_message(to=to, cc=cc[:20])) is None
    assert capabilities.refusal(make_message(attachments=(script,))) is not None
    assert capabilities.max_bytes == 10 * 1000 * 1000  # decimal MB: the smaller reading
    assert capabilities.tags and capabilities.metadata and capabilities.inline_images


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: PostmarkAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    set_faults("postmark", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


def test_the_status_table_covers_every_error_status_of_the_spec(
    postmark_spec: dict[str, Any],
) -> None:
    responses = postmark_spec["paths"]["/email"]["post"]["responses"]
    documented = {int(code) for code in responses if int(code) >= 400}

    assert documented == {422, 500}
    assert documented <= set(STATUS_CLASSES)


@pytest.mark.parametrize(("code", "expected"), table_rows(ERROR_CODE_CLASSES))
def test_each_error_code_of_the_table_raises_its_class_whatever_the_status(
    code: int, expected: type[ProviderError]
) -> None:
    adapter = answering(422, {"ErrorCode": code, "Message": f"error {code}"})

    error = failed_send(adapter)

    assert type(error) is expected
    assert (error.status_code, error.reason) == (422, f"{code}: error {code}")


@pytest.mark.parametrize(
    ("status", "expected"), [(422, RequestRejectedError), (500, ServerError), (401, AuthError)]
)
def test_an_unknown_error_code_falls_back_on_the_http_status(
    status: int, expected: type[ProviderError]
) -> None:
    assert type(failed_send(answering(status, {"ErrorCode": 9999, "Message": "?"}))) is expected


def test_a_200_with_a_non_zero_error_code_is_classified_by_it() -> None:
    adapter = answering(200, {"ErrorCode": 406, "Message": "inactive"})

    assert type(failed_send(adapter)) is RecipientRejectedError


def test_a_200_without_an_error_code_is_a_server_error() -> None:
    assert "unreadable" in failed_send(answering(200, ["?"]), ServerError).reason


def test_wrong_token_is_error_code_10_and_the_token_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = PostmarkAdapter(api_key="wrong-secret", base_url=sandbox.url, client=http_client)

    error = failed_send(adapter, AuthError)

    assert error.status_code == 401
    assert error.reason.startswith("10: ")
    assert "wrong-secret" not in str(error) + error.body + repr(adapter)
    assert control.get("/_sandbox/postmark/stats").json() == {"accepted": 0, "rejected": 1}


def test_an_invalid_address_is_error_code_300_a_rejected_request(
    adapter: PostmarkAdapter,
) -> None:
    error = failed_send_of(adapter, make_message(to_email="not-an-address"))

    assert type(error) is RequestRejectedError
    assert (error.status_code, error.reason) == (
        422, "300: Invalid 'To' address: 'Alice Example <not-an-address>'."
    )


def test_an_inactive_recipient_is_error_code_406_a_refused_recipient(
    adapter: PostmarkAdapter, control: httpx.Client
) -> None:
    error = failed_send_of(adapter, make_message(to_email="perm-fail@simulator.micromailer.test"))

    assert type(error) is RecipientRejectedError
    assert error.status_code == 422
    assert error.reason.startswith("406: You tried to send to recipient(s) that have been marked")
    assert captured(control) == []


def test_a_forbidden_attachment_is_error_code_411(adapter: PostmarkAdapter) -> None:
    script = Attachment("setup.exe", "application/octet-stream", b"MZ")

    error = failed_send_of(adapter, make_message(attachments=(script,)))

    assert type(error) is RequestRejectedError
    assert error.reason == "411: Forbidden attachment type: 'setup.exe'."


def test_a_sender_without_signature_moves_to_the_next_provider() -> None:
    """ErrorCode 400 (no sender signature) is about the account: every email would meet it."""
    error = failed_send(answering(422, {"ErrorCode": 400, "Message": "Sender signature"}))

    assert type(error) is AccountError and error.transient


def test_429_is_rate_limited_with_retry_after(
    adapter: PostmarkAdapter, set_faults: FaultSetter
) -> None:
    set_faults("postmark", failRate=1.0, status=429, retryAfter=7)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 7.0
    assert error.reason == "429: Rate limit exceeded."


def test_429_without_retry_after_leaves_it_unknown(
    adapter: PostmarkAdapter, set_faults: FaultSetter
) -> None:
    set_faults("postmark", failRate=1.0, status=429)

    assert failed_send(adapter, RateLimitedError).retry_after is None
