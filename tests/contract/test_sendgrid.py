"""SendGridAdapter against the fake SendGrid over real HTTP; its body against the spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.sendgrid import STATUS_CLASSES, SendGridAdapter, build_payload
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import (
    SANDBOX_KEYS,
    SENDGRID_SPEC,
    RequestRecorder,
    failed_send,
    load_spec,
    make_message,
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
    messages: list[dict[str, Any]] = control.get("/_sandbox/sendgrid/messages").json()
    return messages


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


def test_429_without_retry_after_leaves_it_unknown(
    adapter: SendGridAdapter, set_faults: FaultSetter
) -> None:
    set_faults("sendgrid", failRate=1.0, status=429)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after is None


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
