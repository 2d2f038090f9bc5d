"""SendGridAdapter against the fake SendGrid over real HTTP; its body against the spec."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
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
from micromailer.providers.sendgrid import (
    CAPABILITIES,
    STATUS_CLASSES,
    SendGridAdapter,
    build_payload,
)
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import (
    SANDBOX_KEYS,
    SENDGRID_SPEC,
    RequestRecorder,
    failed_send,
    load_spec,
    make_message,
    sandbox_messages,
    schema_errors,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]


@pytest.fixture
def adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> SendGridAdapter:
    return SendGridAdapter(
        api_key=SANDBOX_KEYS["sendgrid"], base_url=sandbox.url, client=http_client
    )


def captured(control: httpx.Client) -> list[dict[str, Any]]:
    return sandbox_messages(control, "sendgrid")


#: Every byte value, so a lossy encoding anywhere shows.
REPORT = bytes(range(256)) * 40 + b"%PDF-1.7\r\n\x00end"
LOGO = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 8


def rich_message(**overrides: Any) -> Message:
    """A message with every field set: two to, a cc, a bcc, reply-to, a file, an inline
    image, a custom header, tags and metadata."""
    fields: dict[str, Any] = {
        "to": (Address("alice@example.com", "Alice Example"), Address("bob@example.com")),
        "cc": (Address("carol@example.com", "Carol Example"),),
        "bcc": (Address("dave@example.com"),),
        "reply_to": (Address("help@example.org", "Help Desk"),),
        "html": '<p>Thanks, Alice.</p><img src="cid:logo@example.org" alt="">',
        "attachments": (
            Attachment("report.pdf", "application/pdf", REPORT),
            Attachment("logo.png", "image/png", LOGO, content_id="logo@example.org"),
        ),
        "headers": (("X-Order-Ref", "1024"), ("List-Unsubscribe", "<mailto:u@example.org>")),
        "tags": ("receipt", "billing"),
        "metadata": (("order", "1024"), ("shop", "north")),
    }
    fields.update(overrides)
    return make_message(**fields)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def post_mail(control: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """A Mail Send request straight to the fake, to see what it refuses."""
    auth = {"Authorization": f"Bearer {SANDBOX_KEYS['sendgrid']}"}
    return control.post("/v3/mail/send", json=body, headers=auth)


# -- success ------------------------------------------------------------------------------


def test_send_returns_the_x_message_id_and_the_fake_captures_the_message(
    adapter: SendGridAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "sendgrid"
    assert result.message_id
    [stored] = captured(control)
    assert stored["messageId"] == result.message_id
    assert stored["to"] == message.to[0].email
    assert stored["toName"] == message.to[0].name
    assert stored["subject"] == message.subject
    assert stored["html"] == message.html
    assert stored["text"] == message.text
    assert stored["fromEmail"] == message.sender.email
    assert stored["metadata"] == {"email_id": message.email_id}
    assert control.get("/_sandbox/sendgrid/stats").json() == {"accepted": 1, "rejected": 0}


def test_request_carries_the_key_as_a_bearer_token_and_never_in_the_body(
    adapter: SendGridAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message())

    request = recorder.last
    assert request.method == "POST"
    assert request.url.path == "/v3/mail/send"
    assert request.headers["authorization"] == f"Bearer {SANDBOX_KEYS['sendgrid']}"
    assert request.headers["content-type"] == "application/json"
    assert SANDBOX_KEYS["sendgrid"].encode() not in request.content


def test_request_body_validates_against_sendgrids_openapi_schema(
    adapter: SendGridAdapter, recorder: RequestRecorder, sendgrid_body_schema: Draft202012Validator
) -> None:
    adapter.send(make_message())

    assert schema_errors(sendgrid_body_schema, recorder.last_json()) == []


def test_schema_check_is_not_vacuous(sendgrid_body_schema: Draft202012Validator) -> None:
    """The same validator refuses a body without personalizations or a from address."""
    body = build_payload(make_message())
    del body["personalizations"]
    body["from"] = {"name": "no address"}

    assert len(schema_errors(sendgrid_body_schema, body)) == 2


def test_body_puts_text_plain_before_text_html_and_custom_args_in_the_envelope(
    adapter: SendGridAdapter, recorder: RequestRecorder
) -> None:
    message = make_message()
    adapter.send(message)

    body = recorder.last_json()
    assert [block["type"] for block in body["content"]] == ["text/plain", "text/html"]
    assert body["personalizations"] == [
        {
            "to": [{"email": message.to[0].email, "name": message.to[0].name}],
            "custom_args": {"email_id": message.email_id},
        }
    ]
    assert body["from"] == {"email": message.sender.email, "name": message.sender.name}


def test_recipient_without_name_is_sent_without_name_field(
    adapter: SendGridAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message(to_name=None))

    assert recorder.last_json()["personalizations"][0]["to"] == [{"email": "alice@example.com"}]


def test_recipients_are_never_refused_synchronously(
    adapter: SendGridAdapter, control: httpx.Client
) -> None:
    """Unlike Mandrill, SendGrid reports bad recipients later as events: ``reject…`` passes."""
    result = adapter.send(make_message(to_email="reject-me@example.com"))

    assert result.message_id
    assert captured(control)[0]["to"] == "reject-me@example.com"


# -- the whole message ----------------------------------------------------------------------


def test_every_recipient_goes_in_one_personalization_and_the_fake_captures_each(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()

    result = adapter.send(message)

    [personalization] = recorder.last_json()["personalizations"]
    assert personalization["to"] == [
        {"email": "alice@example.com", "name": "Alice Example"}, {"email": "bob@example.com"}
    ]
    assert personalization["cc"] == [{"email": "carol@example.com", "name": "Carol Example"}]
    assert personalization["bcc"] == [{"email": "dave@example.com"}]
    stored = captured(control)
    assert [(m["to"], m["field"]) for m in stored] == [
        ("alice@example.com", "to"), ("bob@example.com", "to"),
        ("carol@example.com", "cc"), ("dave@example.com", "bcc"),
    ]
    assert {m["messageId"] for m in stored} == {result.message_id}
    assert stored[0]["toAll"] == ["Alice Example <alice@example.com>", "bob@example.com"]
    assert stored[0]["cc"] == ["Carol Example <carol@example.com>"]
    assert stored[0]["bcc"] == ["dave@example.com"]
    assert control.get("/_sandbox/sendgrid/stats").json() == {"accepted": 4, "rejected": 0}


def test_bcc_never_travels_as_a_header(
    adapter: SendGridAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    assert {name.lower() for name in body["headers"]}.isdisjoint({"bcc", "cc", "to"})
    assert "dave@example.com" not in str(body["headers"])


def test_an_address_named_twice_is_sent_once_where_it_first_appears(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    """SendGrid refuses an address repeated within a personalization."""
    message = rich_message(cc=(Address("Bob@example.com"),), bcc=(Address("alice@example.com"),))

    adapter.send(message)

    [personalization] = recorder.last_json()["personalizations"]
    assert "cc" not in personalization and "bcc" not in personalization
    assert len(captured(control)) == 2


def test_the_fake_refuses_an_address_repeated_between_to_cc_and_bcc(
    control: httpx.Client,
) -> None:
    body = build_payload(make_message())
    body["personalizations"][0]["bcc"] = [{"email": "ALICE@example.com"}]

    response = post_mail(control, body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "personalizations.0.bcc.0.email"


def test_attachments_arrive_byte_for_byte_with_their_disposition(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    report, logo = recorder.last_json()["attachments"]
    assert report == {"content": base64.b64encode(REPORT).decode(), "filename": "report.pdf",
                      "type": "application/pdf", "disposition": "attachment"}
    assert logo["disposition"] == "inline"
    files = {item["filename"]: item for item in captured(control)[0]["attachments"]}
    assert files["report.pdf"]["sha256"] == sha256(REPORT)
    assert base64.b64decode(files["report.pdf"]["content"]) == REPORT
    assert files["report.pdf"]["contentType"] == "application/pdf"
    assert files["report.pdf"]["contentId"] is None
    assert files["logo.png"]["sha256"] == sha256(LOGO)


def test_an_inline_image_carries_its_content_id(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    logo = recorder.last_json()["attachments"][1]
    assert (logo["disposition"], logo["content_id"]) == ("inline", "logo@example.org")
    [image] = [a for a in captured(control)[0]["attachments"] if a["contentId"]]
    assert (image["filename"], image["contentId"]) == ("logo.png", "logo@example.org")
    assert 'src="cid:logo@example.org"' in captured(control)[0]["html"]


def test_tags_become_categories_and_metadata_joins_the_email_id_in_custom_args(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    body = recorder.last_json()
    assert body["categories"] == ["receipt", "billing"]
    expected = {"order": "1024", "shop": "north", "email_id": message.email_id}
    assert body["personalizations"][0]["custom_args"] == expected
    stored = captured(control)[0]
    assert stored["tags"] == ["receipt", "billing"]
    assert stored["metadata"] == expected


def test_categories_keep_the_first_ten_distinct_tags() -> None:
    tags = (*(f"tag-{n}" for n in range(12)), "tag-0")

    assert build_payload(make_message(tags=tags))["categories"] == [f"tag-{n}" for n in range(10)]


def test_one_reply_to_is_reply_to_and_several_are_reply_to_list(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())
    assert recorder.last_json()["reply_to"] == {"email": "help@example.org", "name": "Help Desk"}
    assert "reply_to_list" not in recorder.last_json()
    assert captured(control)[0]["replyTo"] == ["Help Desk <help@example.org>"]

    replies = (Address("help@example.org"), Address("sales@example.org", "Sales"))
    adapter.send(rich_message(reply_to=replies))

    body = recorder.last_json()
    assert "reply_to" not in body
    assert body["reply_to_list"] == [{"email": "help@example.org"},
                                     {"email": "sales@example.org", "name": "Sales"}]
    assert captured(control)[-1]["replyTo"] == ["help@example.org", "Sales <sales@example.org>"]


def test_custom_headers_are_passed(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    expected = {"X-Order-Ref": "1024", "List-Unsubscribe": "<mailto:u@example.org>"}
    assert recorder.last_json()["headers"] == expected
    assert captured(control)[0]["headers"] == expected


@pytest.mark.parametrize(
    ("html", "text", "types"),
    [("<p>Hi</p>", "", ["text/html"]), ("", "Hi", ["text/plain"])],
)
def test_an_empty_part_is_left_out(
    adapter: SendGridAdapter, recorder: RequestRecorder, control: httpx.Client,
    html: str, text: str, types: list[str],
) -> None:
    adapter.send(make_message(html=html, text=text))

    assert [block["type"] for block in recorder.last_json()["content"]] == types
    stored = captured(control)[0]
    assert (stored["html"], stored["text"]) == (html or None, text or None)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(rich_message(), id="everything"),
        pytest.param(rich_message(reply_to=(Address("a@example.org"), Address("b@example.org"))),
                     id="reply-to-list"),
        pytest.param(rich_message(html="", attachments=()), id="text-only"),
    ],
)
def test_the_whole_message_validates_against_sendgrids_openapi_schema(
    adapter: SendGridAdapter, recorder: RequestRecorder,
    sendgrid_body_schema: Draft202012Validator, message: Message,
) -> None:
    adapter.send(message)

    assert schema_errors(sendgrid_body_schema, recorder.last_json()) == []


def test_the_schema_check_of_the_whole_message_is_not_vacuous(
    sendgrid_body_schema: Draft202012Validator,
) -> None:
    """The validator refuses an attachment without content, a bad disposition and 11
    categories: the rich body's fields are really checked."""
    body = build_payload(rich_message())
    body["attachments"][0]["content"] = ""
    body["attachments"][1]["disposition"] = "sideways"
    body["categories"] = [f"c{n}" for n in range(11)]

    errors = schema_errors(sendgrid_body_schema, body)

    assert len(errors) == 3, errors


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body["attachments"][1].pop("content_id"), "attachments.1.content_id"),
        (lambda body: body["attachments"][0].update(content="not base64!"),
         "attachments.0.content"),
        (lambda body: body["attachments"][0].pop("filename"), "attachments.0.filename"),
        (lambda body: body["headers"].update(Bcc="x@example.com"), "headers.Bcc"),
        (lambda body: body.update(reply_to_list=[{"email": "a@example.org"}]), "reply_to"),
        (lambda body: body.update(categories=["a"] * 2), "categories"),
        (lambda body: body["personalizations"][0]["cc"].append({"email": "nobody"}),
         "personalizations.0.cc.1.email"),
    ],
)
def test_the_fake_refuses_what_sendgrid_documents_as_invalid(
    control: httpx.Client, change: Callable[[dict[str, Any]], Any], field: str
) -> None:
    body = build_payload(rich_message())
    change(body)

    response = post_mail(control, body)

    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]
    assert captured(control) == []


def test_the_fake_refuses_more_than_1000_recipients(control: httpx.Client) -> None:
    many = tuple(Address(f"r{n}@example.com") for n in range(1001))
    response = post_mail(control, build_payload(make_message(to=many)))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "personalizations"


def test_capabilities_are_sendgrids_documented_limits() -> None:
    """1,000 recipients over to, cc and bcc, 30 MB in all (the Mail Send limitations page)."""
    thousand = tuple(Address(f"r{n}@example.com") for n in range(998))
    assert CAPABILITIES.refusal(rich_message(to=thousand)) is None
    one_more = tuple(Address(f"r{n}@example.com") for n in range(999))
    assert "1,000 recipients" in str(CAPABILITIES.refusal(rich_message(to=one_more)))
    big = Attachment("big.bin", "application/octet-stream", bytes(23 * 1000 * 1000))
    assert "takes messages up to" in str(CAPABILITIES.refusal(make_message(attachments=(big,))))
    assert SendGridAdapter.capabilities is CAPABILITIES
    assert SendGridAdapter.reset_headers == ("X-RateLimit-Reset",)


def test_a_refused_cc_recipient_is_a_refused_recipient(adapter: SendGridAdapter) -> None:
    message = rich_message(cc=(Address("perm-fail@simulator.micromailer.test"),))

    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(message)

    assert '"field":"personalizations.0.cc.0.email"' in caught.value.body


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: SendGridAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    set_faults("sendgrid", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


@pytest.mark.parametrize(
    ("status", "expected"), [(402, AccountError), (418, RequestRejectedError), (599, ServerError)]
)
def test_statuses_sendgrid_does_not_document_take_their_http_meaning(
    adapter: SendGridAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    """A 402 (payment required) lowers the score like an auth failure, whoever sends it."""
    set_faults("sendgrid", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected


def test_the_table_covers_every_error_status_of_the_spec() -> None:
    responses = load_spec(SENDGRID_SPEC)["paths"]["/v3/mail/send"]["post"]["responses"]
    documented = {int(code) for code in responses if int(code) >= 400}

    assert documented <= set(STATUS_CLASSES)


def test_429_is_rate_limited_with_retry_after(
    adapter: SendGridAdapter, set_faults: FaultSetter
) -> None:
    set_faults("sendgrid", failRate=1.0, status=429, retryAfter=7)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 7.0
    assert error.reason == "too many requests"


def test_429_without_retry_after_waits_until_the_x_ratelimit_reset_unix_time(
    adapter: SendGridAdapter, set_faults: FaultSetter
) -> None:
    """SendGrid documents no Retry-After, only ``X-RateLimit-Reset``: the fake's window is 60 s."""
    set_faults("sendgrid", failRate=1.0, status=429)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after is not None
    assert 55.0 <= error.retry_after <= 61.0


def test_the_reset_header_is_read_as_a_unix_time() -> None:
    reset = int(time.time()) + 30
    headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset": str(reset)}
    body = {"errors": [{"message": "too many requests", "field": None}]}
    answer = httpx.Response(429, headers=headers, json=body)
    client = httpx.Client(transport=httpx.MockTransport(lambda _: answer))
    adapter = SendGridAdapter(api_key="k", base_url="https://api.sendgrid.test", client=client)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after is not None
    assert 27.0 <= error.retry_after <= 30.0


def test_wrong_key_is_auth_error_and_the_key_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = SendGridAdapter(api_key="SG.wrong-secret", base_url=sandbox.url, client=http_client)

    error = failed_send(adapter, AuthError)

    assert error.status_code == 401
    assert "authorization grant is invalid" in error.reason
    assert "wrong-secret" not in str(error) + error.body + repr(adapter)
    assert control.get("/_sandbox/sendgrid/stats").json() == {"accepted": 0, "rejected": 1}


def test_invalid_body_is_request_rejected_with_sendgrids_first_error_message(
    adapter: SendGridAdapter,
) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        adapter.send(make_message(subject=""))

    assert caught.value.reason.startswith("The subject is required.")
    assert '"field":"subject"' in caught.value.body


# -- a refused recipient ----------------------------------------------------------------------


def answering_400(*errors: tuple[str, str | None]) -> SendGridAdapter:
    """An adapter whose every call gets SendGrid's 400 listing ``errors``."""
    body = {"errors": [{"message": message, "field": field, "help": None}
                       for message, field in errors]}
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(400, json=body)))
    return SendGridAdapter(api_key="k", base_url="https://api.sendgrid.test", client=client)


@pytest.mark.parametrize(
    "field", ["personalizations.0.to.0.email", "personalizations.2.cc.5.email"]
)
def test_a_400_about_recipient_addresses_only_is_a_refused_recipient(field: str) -> None:
    adapter = answering_400(("Does not contain a valid address.", field))

    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(make_message())

    assert caught.value.status_code == 400
    assert caught.value.reason == "recipient refused: Does not contain a valid address."


@pytest.mark.parametrize(
    "errors",
    [
        [("Does not contain a valid address.", "personalizations.0.to.0.email"),
         ("The subject is required.", "subject")],
        [("Does not contain a valid address.", "from.email")],
        [("Bad Request", None)],
    ],
)
def test_a_400_about_anything_else_stays_a_rejected_request(
    errors: list[tuple[str, str | None]],
) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        answering_400(*errors).send(make_message())

    assert not isinstance(caught.value, RecipientRejectedError)
