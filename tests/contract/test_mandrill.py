"""MandrillAdapter against the fake Mandrill over real HTTP; its body against the spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from micromailer.providers.errors import (
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.mandrill import MandrillAdapter, build_payload
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import (
    MANDRILL_BODY_POINTER,
    SANDBOX_KEYS,
    RequestRecorder,
    body_validator,
    make_message,
    schema_errors,
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
    assert stored["to"] == message.to_email
    assert stored["toName"] == message.to_name
    assert stored["subject"] == message.subject
    assert stored["html"] == message.html
    assert stored["text"] == message.text
    assert stored["fromEmail"] == message.sender_email
    assert stored["fromName"] == message.sender_name
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


# -- refused recipients -------------------------------------------------------------------


def test_rejected_recipient_is_recipient_rejected_with_the_reject_reason(
    adapter: MandrillAdapter, control: httpx.Client
) -> None:
    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(make_message(to_email="reject.bob@example.com"))

    assert caught.value.reason == "recipient rejected: hard-bounce"
    assert caught.value.status_code == 200
    assert not caught.value.transient
    assert stats(control) == {"accepted": 0, "rejected": 1}
    assert control.get("/_sandbox/mandrill/messages").json() == []


def test_invalid_recipient_is_recipient_rejected(adapter: MandrillAdapter) -> None:
    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(make_message(to_email="invalid-carol@example.com"))

    assert caught.value.reason == "recipient invalid"


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "name"), [(500, "GeneralError"), (503, "ServiceUnavailable")])
def test_server_errors_are_server_error(
    adapter: MandrillAdapter, set_faults: FaultSetter, status: int, name: str
) -> None:
    set_faults("mandrill", failRate=1.0, status=status)

    with pytest.raises(ServerError) as caught:
        adapter.send(make_message())

    assert caught.value.status_code == status
    assert caught.value.reason.startswith(f"{name}: ")


def test_429_is_rate_limited_with_retry_after(
    adapter: MandrillAdapter, set_faults: FaultSetter
) -> None:
    set_faults("mandrill", failRate=1.0, status=429, retryAfter=12)

    with pytest.raises(RateLimitedError) as caught:
        adapter.send(make_message())

    assert caught.value.retry_after == 12.0
    assert caught.value.reason.startswith("RequestLimitExceeded: ")


def test_wrong_key_is_auth_error_and_the_key_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = MandrillAdapter(api_key="md-wrong-secret", base_url=sandbox.url, client=http_client)

    with pytest.raises(AuthError) as caught:
        adapter.send(make_message())

    assert caught.value.status_code == 401
    assert caught.value.reason == "Invalid_Key: Invalid API key"
    assert "wrong-secret" not in str(caught.value) + caught.value.body + repr(adapter)
    assert stats(control) == {"accepted": 0, "rejected": 1}


def test_injected_400_is_request_rejected(
    adapter: MandrillAdapter, set_faults: FaultSetter
) -> None:
    set_faults("mandrill", failRate=1.0, status=400)

    with pytest.raises(RequestRejectedError) as caught:
        adapter.send(make_message())

    assert caught.value.reason.startswith("ValidationError: ")


# -- classification by error name (Mandrill's legacy path answers errors with HTTP 500) ------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Invalid_Key", AuthError),
        ("PaymentRequired", RequestRejectedError),
        ("Unknown_Subaccount", RequestRejectedError),
        ("ValidationError", RequestRejectedError),
        ("GeneralError", ServerError),
        ("ServiceUnavailable", ServerError),
        ("RequestLimitExceeded", RateLimitedError),
    ],
)
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
    ("status", "expected"), [(401, AuthError), (500, ServerError), (422, RequestRejectedError)]
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


def test_unreadable_success_answer_is_server_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        adapter = MandrillAdapter(api_key="k", base_url="https://mandrill.test", client=client)
        with pytest.raises(ServerError, match="unreadable answer"):
            adapter.send(make_message())
