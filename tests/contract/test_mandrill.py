"""MandrillAdapter against the fake Mandrill over real HTTP; its body against the spec."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.verdict import AttemptReport, Delivered, RetryLater, Undeliverable
from micromailer.domain.message import Address, Attachment, Message
from micromailer.domain.status import Outcome
from micromailer.health.base import base_scores
from micromailer.health.board import MemoryBoard
from micromailer.health.original import OriginalStrategy
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientDeferredError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.mandrill import (
    CAPABILITIES,
    ERROR_CLASSES,
    RECIPIENT_STATUS_CLASSES,
    REJECT_REASON_CLASSES,
    STATUS_CLASSES,
    MandrillAdapter,
    build_payload,
)
from micromailer.providers.sendgrid import SendGridAdapter
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import (
    MANDRILL_BODY_POINTER,
    SANDBOX_KEYS,
    RequestRecorder,
    body_validator,
    failed_send,
    make_message,
    schema_errors,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]


@pytest.fixture
def adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> MandrillAdapter:
    key = SANDBOX_KEYS["mandrill"]
    return MandrillAdapter(api_key=key, base_url=sandbox.url, client=http_client)


def stats(control: httpx.Client) -> dict[str, int]:
    counts: dict[str, int] = control.get("/_sandbox/mandrill/stats").json()
    return counts


# -- success ------------------------------------------------------------------------------


def test_send_returns_the_recipients_id_and_the_fake_captures_the_message(
    adapter: MandrillAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "mandrill"
    assert result.message_id is not None and len(result.message_id) == 32
    assert result.raw[0]["status"] == "sent"
    [stored] = control.get("/_sandbox/mandrill/messages").json()
    assert stored["messageId"] == result.message_id
    assert stored["to"] == message.to[0].email
    assert stored["toName"] == message.to[0].name
    assert stored["subject"] == message.subject
    assert stored["html"] == message.html
    assert stored["text"] == message.text
    assert stored["fromEmail"] == message.sender.email
    assert stored["fromName"] == message.sender.name
    assert stored["metadata"] == {"email_id": message.email_id}
    assert stats(control) == {"accepted": 1, "rejected": 0}


def test_key_travels_in_the_json_body_and_no_auth_header_is_sent(
    adapter: MandrillAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message())

    request = recorder.last
    assert request.method == "POST"
    assert request.url.path == "/api/1.0/messages/send.json"
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    body = recorder.last_json()
    assert body["key"] == SANDBOX_KEYS["mandrill"]
    assert body["message"]["to"] == [
        {"email": "alice@example.com", "name": "Alice Example", "type": "to"}
    ]


def test_request_body_validates_against_mandrills_openapi_schema(
    adapter: MandrillAdapter, recorder: RequestRecorder, mandrill_body_schema: Draft202012Validator
) -> None:
    adapter.send(make_message())

    assert schema_errors(mandrill_body_schema, recorder.last_json()) == []


def test_the_only_objection_of_the_unpatched_spec_is_its_api_key_quirk(
    mandrill_spec: dict[str, Any],
) -> None:
    """Lifting ``ApiKey.additionalProperties`` hides nothing else the spec would refuse."""
    validator = body_validator(mandrill_spec, MANDRILL_BODY_POINTER)
    errors = list(validator.iter_errors(build_payload(make_message(), "k")))

    assert [(list(e.absolute_path), e.validator) for e in errors] == [([], "additionalProperties")]


def test_schema_check_is_not_vacuous(mandrill_body_schema: Draft202012Validator) -> None:
    """The same validator refuses a body without a key and with a malformed recipient type."""
    body = build_payload(make_message(), "k")
    del body["key"]
    body["message"]["to"][0]["type"] = "reply-to"

    assert len(schema_errors(mandrill_body_schema, body)) == 2


# -- the whole message ----------------------------------------------------------------------

#: Every byte value, so a lossy encoding anywhere shows.
REPORT = bytes(range(256)) * 40 + b"%PDF-1.7\r\n\x00end"
LOGO = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 8


def rich_message(**overrides: Any) -> Message:
    """A message with every field set: two to, a cc, a bcc, two reply-to, a file, an inline
    image, a custom header, tags and metadata."""
    fields: dict[str, Any] = {
        "to": (Address("alice@example.com", "Alice Example"), Address("bob@example.com")),
        "cc": (Address("carol@example.com", "Carol Example"),),
        "bcc": (Address("dave@example.com"),),
        "reply_to": (Address("help@example.org", "Help Desk"), Address("sales@example.org")),
        "html": '<p>Thanks, Alice.</p><img src="cid:logo@example.org" alt="">',
        "attachments": (
            Attachment("report.pdf", "application/pdf", REPORT),
            Attachment("logo.png", "image/png", LOGO, content_id="logo@example.org"),
        ),
        "headers": (("X-Order-Ref", "1024"),),
        "tags": ("receipt", "billing"),
        "metadata": (("order", "1024"),),
    }
    fields.update(overrides)
    return make_message(**fields)


def messages(control: httpx.Client) -> list[dict[str, Any]]:
    captured: list[dict[str, Any]] = control.get("/_sandbox/mandrill/messages").json()
    return captured


def post_send(control: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    """A messages/send request straight to the fake, to see what it refuses."""
    return control.post("/api/1.0/messages/send.json", json=body)


def test_every_recipient_is_one_entry_of_to_with_its_type_and_recipients_are_preserved(
    adapter: MandrillAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    result = adapter.send(rich_message())

    mail = recorder.last_json()["message"]
    assert mail["to"] == [
        {"email": "alice@example.com", "name": "Alice Example", "type": "to"},
        {"email": "bob@example.com", "type": "to"},
        {"email": "carol@example.com", "name": "Carol Example", "type": "cc"},
        {"email": "dave@example.com", "type": "bcc"},
    ]
    assert mail["preserve_recipients"] is True
    stored = messages(control)
    assert [(m["to"], m["field"]) for m in stored] == [
        ("alice@example.com", "to"), ("bob@example.com", "to"),
        ("carol@example.com", "cc"), ("dave@example.com", "bcc"),
    ]
    assert stored[0]["messageId"] == result.message_id
    assert stored[3]["toAll"] == ["Alice Example <alice@example.com>", "bob@example.com"]
    assert stored[3]["cc"] == ["Carol Example <carol@example.com>"]
    assert stored[3]["bcc"] == ["dave@example.com"]
    assert [entry["status"] for entry in result.raw] == ["sent"] * 4
    assert stats(control) == {"accepted": 4, "rejected": 0}


def test_bcc_never_travels_as_a_header(
    adapter: MandrillAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(rich_message())

    headers = recorder.last_json()["message"]["headers"]
    assert {name.lower() for name in headers}.isdisjoint({"bcc", "cc", "to"})
    assert "dave@example.com" not in str(headers)


def test_reply_to_travels_as_the_reply_to_header(
    adapter: MandrillAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    headers = recorder.last_json()["message"]["headers"]
    assert headers["Reply-To"] == "Help Desk <help@example.org>, sales@example.org"
    assert messages(control)[0]["replyTo"] == ["Help Desk <help@example.org>", "sales@example.org"]


def test_custom_headers_are_passed(
    adapter: MandrillAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message(reply_to=()))

    assert recorder.last_json()["message"]["headers"] == {"X-Order-Ref": "1024"}
    assert messages(control)[0]["headers"] == {"X-Order-Ref": "1024"}


def test_attachments_arrive_byte_for_byte(
    adapter: MandrillAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    assert recorder.last_json()["message"]["attachments"] == [
        {"type": "application/pdf", "name": "report.pdf",
         "content": base64.b64encode(REPORT).decode()}
    ]
    files = {item["filename"]: item for item in messages(control)[0]["attachments"]}
    assert files["report.pdf"]["sha256"] == hashlib.sha256(REPORT).hexdigest()
    assert base64.b64decode(files["report.pdf"]["content"]) == REPORT
    assert files["report.pdf"]["contentType"] == "application/pdf"


def test_an_inline_image_goes_in_images_named_by_its_content_id(
    adapter: MandrillAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    assert recorder.last_json()["message"]["images"] == [
        {"type": "image/png", "name": "logo@example.org",
         "content": base64.b64encode(LOGO).decode()}
    ]
    [image] = [a for a in messages(control)[0]["attachments"] if a["contentId"]]
    assert image["contentId"] == "logo@example.org"
    assert image["sha256"] == hashlib.sha256(LOGO).hexdigest()


def test_an_inline_part_that_is_not_an_image_travels_as_an_attachment() -> None:
    """Mandrill's ``images[]`` takes only ``image/*``."""
    card = Attachment("card.vcf", "text/vcard", b"BEGIN:VCARD", content_id="card")

    mail = build_payload(make_message(attachments=(card,)), "k")["message"]

    assert "images" not in mail
    assert mail["attachments"][0]["name"] == "card.vcf"


def test_tags_and_metadata_are_passed_with_the_email_id(
    adapter: MandrillAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message(tags=("receipt", "_internal", "billing", "receipt"))
    adapter.send(message)

    mail = recorder.last_json()["message"]
    assert mail["tags"] == ["receipt", "billing"]  # a leading underscore is Mandrill's own
    assert mail["metadata"] == {"order": "1024", "email_id": message.email_id}
    stored = messages(control)[0]
    assert stored["tags"] == ["receipt", "billing"]
    assert stored["metadata"] == {"order": "1024", "email_id": message.email_id}


@pytest.mark.parametrize(("html", "text"), [("<p>Hi</p>", ""), ("", "Hi")])
def test_an_empty_part_is_left_out(
    adapter: MandrillAdapter, recorder: RequestRecorder, control: httpx.Client,
    html: str, text: str,
) -> None:
    adapter.send(make_message(html=html, text=text))

    mail = recorder.last_json()["message"]
    assert ("html" in mail, "text" in mail) == (bool(html), bool(text))
    stored = messages(control)[0]
    assert (stored["html"], stored["text"]) == (html or None, text or None)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(rich_message(), id="everything"),
        pytest.param(rich_message(html="", attachments=(), sender=Address("a@example.org")),
                     id="text-only-no-sender-name"),
    ],
)
def test_the_whole_message_validates_against_mandrills_openapi_schema(
    adapter: MandrillAdapter, recorder: RequestRecorder,
    mandrill_body_schema: Draft202012Validator, message: Message,
) -> None:
    adapter.send(message)

    assert schema_errors(mandrill_body_schema, recorder.last_json()) == []


def test_the_schema_check_of_the_whole_message_is_not_vacuous(
    mandrill_body_schema: Draft202012Validator,
) -> None:
    """The validator refuses a non-boolean preserve_recipients, tags that are not strings and
    an attachment whose content is not a string: the rich body's fields are really checked."""
    body = build_payload(rich_message(), "k")
    body["message"]["preserve_recipients"] = "yes"
    body["message"]["tags"] = [1]
    body["message"]["attachments"][0]["content"] = 7

    errors = schema_errors(mandrill_body_schema, body)

    assert len(errors) == 3, errors


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda mail: mail["images"][0].update(type="application/pdf"), "image/"),
        (lambda mail: mail.update(tags=["_reserved"]), "underscore"),
        (lambda mail: mail["attachments"][0].update(content="not base64!"), "base64"),
        (lambda mail: mail["to"][2].update(type="reply-to"), "to, cc, bcc"),
        (lambda mail: mail["headers"].update({"X-Count": 3}), "headers"),
    ],
)
def test_the_fake_refuses_what_mandrill_documents_as_invalid(
    control: httpx.Client, change: Callable[[dict[str, Any]], Any], complaint: str
) -> None:
    body = build_payload(rich_message(), SANDBOX_KEYS["mandrill"])
    change(body["message"])

    response = post_send(control, body)

    assert response.status_code == 422
    assert response.json()["name"] == "ValidationError"
    assert complaint in response.json()["message"]
    assert messages(control) == []


def test_more_than_ten_recipients_are_queued_and_accepted(
    adapter: MandrillAdapter, control: httpx.Client
) -> None:
    """Mandrill sends more than 10 recipients asynchronously: every result is ``queued``."""
    many = tuple(Address(f"r{n}@example.com") for n in range(11))

    result = adapter.send(make_message(to=many))

    assert {entry["status"] for entry in result.raw} == {"queued"}
    assert result.message_id == result.raw[0]["_id"]
    assert stats(control) == {"accepted": 11, "rejected": 0}


def test_one_accepted_recipient_makes_the_message_sent_and_the_refusals_stay_in_raw(
    adapter: MandrillAdapter, control: httpx.Client
) -> None:
    message = rich_message(cc=(Address("reject+hard-bounce@example.com"),))

    result = adapter.send(message)

    refused = [entry for entry in result.raw if entry["status"] == "rejected"]
    assert [entry["email"] for entry in refused] == ["reject+hard-bounce@example.com"]
    assert stats(control) == {"accepted": 3, "rejected": 1}


def test_when_nobody_is_accepted_a_refusal_that_may_pass_later_wins(
    adapter: MandrillAdapter,
) -> None:
    message = make_message(to=(Address("reject+hard-bounce@example.com"),
                                Address("reject+soft-bounce@example.com")))

    with pytest.raises(RecipientDeferredError) as caught:
        adapter.send(message)

    assert caught.value.reason == "recipient rejected: soft-bounce"


def test_capabilities_are_mandrills_documented_limits() -> None:
    """Under 10 MB of JSON a call (Mailchimp Transactional's recipients page) and the 1,000
    recipients it gives SMTP; Mandrill documents no rate-limit headers."""
    thousand = tuple(Address(f"r{n}@example.com") for n in range(998))
    assert CAPABILITIES.refusal(rich_message(to=thousand)) is None
    one_more = tuple(Address(f"r{n}@example.com") for n in range(999))
    assert "1,000 recipients" in str(CAPABILITIES.refusal(rich_message(to=one_more)))
    big = Attachment("big.bin", "application/octet-stream", bytes(7_600_000))
    assert "takes messages up to" in str(CAPABILITIES.refusal(make_message(attachments=(big,))))
    assert MandrillAdapter.capabilities is CAPABILITIES
    assert MandrillAdapter.reset_headers == ()


# -- refused recipients -------------------------------------------------------------------


@pytest.mark.parametrize(("reject_reason", "expected"), table_rows(REJECT_REASON_CLASSES))
def test_each_reject_reason_of_the_table_raises_its_class(
    adapter: MandrillAdapter, control: httpx.Client, reject_reason: str,
    expected: type[ProviderError],
) -> None:
    with pytest.raises(ProviderError) as caught:
        adapter.send(make_message(to_email=f"reject+{reject_reason}@example.com"))

    assert type(caught.value) is expected
    assert caught.value.reason == f"recipient rejected: {reject_reason}"
    assert caught.value.status_code == 200
    assert stats(control) == {"accepted": 0, "rejected": 1}


@pytest.mark.parametrize(
    ("reject_reason", "expected"),
    [("hard-bounce", RecipientRejectedError), ("invalid-sender", AccountError)],
)
def test_what_a_reject_reason_means_for_the_email_and_the_provider(
    adapter: MandrillAdapter, reject_reason: str, expected: type[ProviderError]
) -> None:
    """About the recipient: final, health untouched. About the sender: next provider, and
    this one's health pays."""
    with pytest.raises(expected) as caught:
        adapter.send(make_message(to_email=f"reject+{reject_reason}@example.com"))

    about_the_recipient = expected is RecipientRejectedError
    assert caught.value.transient is not about_the_recipient
    assert caught.value.counts_against_health is not about_the_recipient


def test_a_soft_bounce_may_pass_later_and_leaves_the_providers_health_alone(
    adapter: MandrillAdapter,
) -> None:
    with pytest.raises(ProviderError) as caught:
        adapter.send(make_message(to_email="reject+soft-bounce@example.com"))

    assert caught.value.transient
    assert not caught.value.counts_against_health


@pytest.mark.parametrize(
    ("status", "expected"), table_rows({k: v for k, v in RECIPIENT_STATUS_CLASSES.items() if v})
)
def test_each_refusing_recipient_status_of_the_table_raises_its_class(
    adapter: MandrillAdapter, status: str, expected: type[ProviderError]
) -> None:
    with pytest.raises(ProviderError) as caught:
        adapter.send(make_message(to_email=f"{status}-carol@example.com"))

    assert type(caught.value) is expected
    assert caught.value.reason == f"recipient {status}"


def test_a_plain_reject_address_is_a_hard_bounce(adapter: MandrillAdapter) -> None:
    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(make_message(to_email="reject.bob@example.com"))

    assert caught.value.reason == "recipient rejected: hard-bounce"


@pytest.mark.parametrize("status", ["queued", "scheduled"])
def test_held_recipients_are_accepted(status: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        result = {"email": "a@example.com", "status": status, "_id": "abc",
                  "queued_reason": "hourly-quota-exhausted", "reject_reason": None}
        return httpx.Response(200, json=[result])

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        adapter = MandrillAdapter(api_key="k", base_url="https://mandrill.test", client=client)
        assert adapter.send(make_message()).message_id == "abc"


@pytest.mark.parametrize("reject_reason", [None, "a-reason-from-the-future"])
def test_a_rejection_without_a_known_reason_fails_the_email(reject_reason: str | None) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        result = {"email": "a@example.com", "status": "rejected", "_id": "abc",
                  "reject_reason": reject_reason}
        return httpx.Response(200, json=[result])

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        adapter = MandrillAdapter(api_key="k", base_url="https://mandrill.test", client=client)
        with pytest.raises(RecipientRejectedError):
            adapter.send(make_message())


def test_the_tables_cover_every_recipient_status_and_reject_reason_of_the_spec(
    mandrill_spec: dict[str, Any],
) -> None:
    result = mandrill_spec["components"]["schemas"]["MessagesSendResult"]["properties"]
    statuses = set(result["status"]["enum"])
    reasons = set(result["reject_reason"]["enum"])

    assert statuses == {*RECIPIENT_STATUS_CLASSES, "rejected"}
    assert reasons == set(REJECT_REASON_CLASSES)


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: MandrillAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    """The fake answers each status with the error ``name`` the spec gives it."""
    set_faults("mandrill", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


def test_a_locked_account_counts_against_the_provider_like_an_auth_failure(
    adapter: MandrillAdapter, set_faults: FaultSetter
) -> None:
    set_faults("mandrill", failRate=1.0, status=402)

    error = failed_send(adapter, AccountError)

    assert error.reason.startswith("PaymentRequired: ")
    assert error.transient
    assert error.counts_against_health


def test_429_is_rate_limited_with_retry_after(
    adapter: MandrillAdapter, set_faults: FaultSetter
) -> None:
    set_faults("mandrill", failRate=1.0, status=429, retryAfter=12)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 12.0
    assert error.reason.startswith("RequestLimitExceeded: ")


def test_wrong_key_is_auth_error_and_the_key_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = MandrillAdapter(api_key="md-wrong-secret", base_url=sandbox.url, client=http_client)

    error = failed_send(adapter, AuthError)

    assert error.status_code == 401
    assert error.reason == "Invalid_Key: Invalid API key"
    assert "wrong-secret" not in str(error) + error.body + repr(adapter)
    assert stats(control) == {"accepted": 0, "rejected": 1}


# -- classification by error name (Mandrill's legacy path answers errors with HTTP 500) ------


@pytest.mark.parametrize(("name", "expected"), table_rows(ERROR_CLASSES))
def test_errors_are_classified_by_name_not_by_http_status(
    name: str, expected: type[ProviderError]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"status": "error", "code": -1, "name": name, "message": "it went wrong"}
        return httpx.Response(500, json=body)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        adapter = MandrillAdapter(api_key="k", base_url="https://mandrill.test", client=client)
        with pytest.raises(ProviderError) as caught:
            adapter.send(make_message())

    assert type(caught.value) is expected
    assert caught.value.reason == f"{name}: it went wrong"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, AuthError), (402, AccountError), (500, ServerError), (422, RequestRejectedError)],
)
def test_unknown_error_names_fall_back_on_the_http_status(
    status: int, expected: type[ProviderError]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"status": "error", "code": 7, "name": "Novel_Error"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        adapter = MandrillAdapter(api_key="k", base_url="https://mandrill.test", client=client)
        with pytest.raises(ProviderError) as caught:
            adapter.send(make_message())

    assert type(caught.value) is expected


def test_the_status_table_covers_every_error_status_the_spec_gives_the_send_call(
    mandrill_spec: dict[str, Any],
) -> None:
    responses = mandrill_spec["paths"]["/messages/send"]["post"]["responses"]
    documented = {int(code) for code in responses if int(code) >= 400}

    assert documented <= set(STATUS_CLASSES)


def test_unreadable_success_answer_is_server_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        adapter = MandrillAdapter(api_key="k", base_url="https://mandrill.test", client=client)
        with pytest.raises(ServerError, match="unreadable answer"):
            adapter.send(make_message())


# -- what the dispatcher makes of each class, over real HTTP --------------------------------


@pytest.fixture
def mandrill_first(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> tuple[Dispatcher, MemoryBoard]:
    """Mandrill preferred, SendGrid second, both real adapters aimed at the sandbox."""
    adapters = [
        MandrillAdapter(api_key=SANDBOX_KEYS["mandrill"], base_url=sandbox.url, client=http_client),
        SendGridAdapter(api_key=SANDBOX_KEYS["sendgrid"], base_url=sandbox.url, client=http_client),
    ]
    board = MemoryBoard(OriginalStrategy(), base_scores(["mandrill", "sendgrid"]))
    return Dispatcher(adapters, board), board


def tried(report: AttemptReport) -> list[tuple[str, Outcome]]:
    return [(attempt.provider, attempt.outcome) for attempt in report.tries]


def test_a_locked_account_moves_to_the_next_provider_and_stops_being_tried_first(
    mandrill_first: tuple[Dispatcher, MemoryBoard], set_faults: FaultSetter
) -> None:
    dispatcher, board = mandrill_first
    set_faults("mandrill", failRate=1.0, status=402)

    first = dispatcher.attempt(make_message())
    second = dispatcher.attempt(make_message())

    assert tried(first) == [("mandrill", Outcome.FAILED), ("sendgrid", Outcome.SENT)]
    assert isinstance(first.verdict, Delivered) and first.verdict.provider == "sendgrid"
    assert board.scores()["mandrill"] < board.scores()["sendgrid"]
    assert tried(second) == [("sendgrid", Outcome.SENT)]  # no wasted try on the locked account


def test_a_sender_refusal_moves_to_the_next_provider_and_counts_against_the_first(
    mandrill_first: tuple[Dispatcher, MemoryBoard], control: httpx.Client
) -> None:
    dispatcher, board = mandrill_first

    report = dispatcher.attempt(make_message(to_email="reject+invalid-sender@example.com"))

    assert tried(report) == [("mandrill", Outcome.FAILED), ("sendgrid", Outcome.SENT)]
    assert isinstance(report.verdict, Delivered) and report.verdict.provider == "sendgrid"
    assert board.scores()["mandrill"] < board.scores()["sendgrid"]


def test_a_hard_bounce_fails_the_email_at_once_without_burning_the_next_provider(
    mandrill_first: tuple[Dispatcher, MemoryBoard], control: httpx.Client
) -> None:
    dispatcher, board = mandrill_first
    before = board.scores()

    report = dispatcher.attempt(make_message(to_email="reject+hard-bounce@example.com"))

    assert tried(report) == [("mandrill", Outcome.RECIPIENT_REJECTED)]
    assert isinstance(report.verdict, Undeliverable)
    assert board.scores() == before
    assert control.get("/_sandbox/sendgrid/stats").json() == {"accepted": 0, "rejected": 0}


def test_a_soft_bounce_tries_the_next_provider_without_lowering_the_first(
    mandrill_first: tuple[Dispatcher, MemoryBoard], set_faults: FaultSetter
) -> None:
    dispatcher, board = mandrill_first
    set_faults("sendgrid", failRate=1.0, status=503)

    report = dispatcher.attempt(make_message(to_email="reject+soft-bounce@example.com"))

    assert tried(report) == [("mandrill", Outcome.FAILED), ("sendgrid", Outcome.FAILED)]
    assert isinstance(report.verdict, RetryLater)
    health = {state.name: state.health for state in board.states()}
    assert health["mandrill"] == 1.0
    assert health["sendgrid"] < 1.0
