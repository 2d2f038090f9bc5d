"""The sandbox itself: control API, fault semantics, capture, and the fakes' own checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from micromailer.providers.mandrill import build_payload as mandrill_payload
from micromailer.providers.sendgrid import build_payload as sendgrid_payload
from micromailer.sandbox import create_sandbox_app
from micromailer.security.hosts import HostPolicy, parse_host_patterns
from tests.contract.helpers import SANDBOX_KEYS, make_message

FaultSetter = Callable[..., dict[str, Any]]

SENDGRID_AUTH = {"Authorization": f"Bearer {SANDBOX_KEYS['sendgrid']}"}
#: The sandbox answers the localhost names only, not TestClient's default "testserver".
LOCAL = "http://localhost"
MANDRILL_PATHS = ["/api/1.0/messages/send.json", "/api/1.0/messages/send", "/api/1.4/messages/send"]


def send_sendgrid(client: httpx.Client, to: str = "alice@example.com") -> httpx.Response:
    body = sendgrid_payload(make_message(to_email=to))
    return client.post("/v3/mail/send", json=body, headers=SENDGRID_AUTH)


def send_mandrill(
    client: httpx.Client, to: str = "alice@example.com", path: str = MANDRILL_PATHS[0]
) -> httpx.Response:
    return client.post(
        path, json=mandrill_payload(make_message(to_email=to), SANDBOX_KEYS["mandrill"])
    )


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["sendgrid", "mandrill"])
def test_faults_are_set_read_back_and_cleared_with_an_empty_object(
    control: httpx.Client, provider: str
) -> None:
    settings = {"failRate": 0.25, "status": 502, "latencyMs": 10.0, "retryAfter": None}

    assert control.put(f"/_sandbox/{provider}/faults", json=settings).json() == settings
    assert control.get(f"/_sandbox/{provider}/faults").json() == settings
    cleared = control.put(f"/_sandbox/{provider}/faults", json={}).json()
    assert cleared == {"failRate": 0.0, "status": 503, "latencyMs": 0.0, "retryAfter": None}


def test_missing_fault_fields_take_their_defaults(control: httpx.Client) -> None:
    kept = control.put("/_sandbox/sendgrid/faults", json={"failRate": 1}).json()

    assert kept == {"failRate": 1.0, "status": 503, "latencyMs": 0.0, "retryAfter": None}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"failRate": 1.5}, "'failRate'"),
        ({"failRate": "often"}, "'failRate'"),
        ({"status": 200}, "'status'"),
        ({"status": "503"}, "'status'"),
        ({"latencyMs": -1}, "'latencyMs'"),
        ({"retryAfter": -3}, "'retryAfter'"),
        ({"failrate": 0.5}, "Unknown fault setting 'failrate'"),
        ([0.5, 503], "must be a JSON object"),
    ],
)
def test_bad_fault_settings_are_refused_with_a_sentence(
    control: httpx.Client, body: Any, fragment: str
) -> None:
    control.put("/_sandbox/sendgrid/faults", json={"failRate": 0.5})

    response = control.put("/_sandbox/sendgrid/faults", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in error and error.endswith(".")
    assert control.get("/_sandbox/sendgrid/faults").json()["failRate"] == 0.5, "settings kept"


def test_fault_body_that_is_not_json_is_refused(control: httpx.Client) -> None:
    response = control.put("/_sandbox/mandrill/faults", content=b"failRate=1")

    assert response.status_code == 400
    assert response.json() == {"error": "The faults body is not valid JSON."}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_sandbox/nosuchmail/faults"),
        ("PUT", "/_sandbox/nosuchmail/faults"),
        ("GET", "/_sandbox/nosuchmail/messages"),
        ("DELETE", "/_sandbox/nosuchmail/messages"),
        ("GET", "/_sandbox/nosuchmail/stats"),
    ],
)
def test_unknown_provider_is_404_with_a_sentence(
    control: httpx.Client, method: str, path: str
) -> None:
    response = control.request(method, path, json={})

    assert response.status_code == 404
    assert response.json()["error"].startswith("Unknown provider 'nosuchmail'")


def test_injected_429_carries_retry_after_for_both_providers(
    control: httpx.Client, set_faults: FaultSetter
) -> None:
    set_faults("sendgrid", failRate=1.0, status=429, retryAfter=3)
    set_faults("mandrill", failRate=1.0, status=429, retryAfter=2.5)

    sendgrid = send_sendgrid(control)
    mandrill = send_mandrill(control)

    assert (sendgrid.status_code, sendgrid.headers["retry-after"]) == (429, "3")
    assert sendgrid.json()["errors"][0]["message"] == "too many requests"
    assert (mandrill.status_code, mandrill.headers["retry-after"]) == (429, "2.5")
    assert mandrill.json()["name"] == "RequestLimitExceeded"


def test_faults_touch_only_their_provider(control: httpx.Client, set_faults: FaultSetter) -> None:
    set_faults("sendgrid", failRate=1.0, status=503)

    assert send_sendgrid(control).status_code == 503
    assert send_mandrill(control).status_code == 200


def test_latency_applies_to_every_send(control: httpx.Client, set_faults: FaultSetter) -> None:
    set_faults("mandrill", latencyMs=150)

    started = time.monotonic()
    response = send_mandrill(control)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.15


def test_partial_fail_rate_is_repeatable_with_a_seed() -> None:
    """Two sandboxes with the same seed fail the same requests."""

    def outcomes() -> list[int]:
        with TestClient(create_sandbox_app(seed=7), base_url=LOCAL) as client:
            client.put("/_sandbox/sendgrid/faults", json={"failRate": 0.5})
            body = sendgrid_payload(make_message())
            headers = {"Authorization": "Bearer any"}
            return [
                client.post("/v3/mail/send", json=body, headers=headers).status_code
                for _ in range(30)
            ]

    first = outcomes()
    assert first == outcomes()
    assert 5 < first.count(503) < 25


# -- capture and stats --------------------------------------------------------------------


def test_messages_are_listed_newest_last_with_time_received(control: httpx.Client) -> None:
    for name in ("first", "second", "third"):
        assert send_mandrill(control, to=f"{name}@example.com").status_code == 200

    messages = control.get("/_sandbox/mandrill/messages").json()

    assert [m["to"] for m in messages] == [f"{n}@example.com" for n in ("first", "second", "third")]
    times = [datetime.fromisoformat(m["receivedAt"]) for m in messages]
    assert times == sorted(times) and times[0].tzinfo is not None


def test_stats_count_accepted_and_every_kind_of_refusal(
    control: httpx.Client, set_faults: FaultSetter
) -> None:
    send_mandrill(control)
    send_mandrill(control, to="reject@example.com")
    send_mandrill(control, to="invalid@example.com")
    control.post(MANDRILL_PATHS[0], json={"key": "wrong", "message": {}})
    set_faults("mandrill", failRate=1.0)
    send_mandrill(control)

    assert control.get("/_sandbox/mandrill/stats").json() == {"accepted": 1, "rejected": 4}


def test_delete_messages_resets_capture_and_counts_but_keeps_faults(
    control: httpx.Client, set_faults: FaultSetter
) -> None:
    send_sendgrid(control)
    set_faults("sendgrid", latencyMs=1)

    assert control.delete("/_sandbox/sendgrid/messages").json() == {"accepted": 0, "rejected": 0}
    assert control.get("/_sandbox/sendgrid/messages").json() == []
    assert control.get("/_sandbox/sendgrid/faults").json()["latencyMs"] == 1


def test_capture_keeps_only_the_newest_messages_beyond_its_capacity() -> None:
    with TestClient(create_sandbox_app(capacity=3), base_url=LOCAL) as client:
        for index in range(5):
            body = sendgrid_payload(make_message(to_email=f"r{index}@example.com"))
            client.post("/v3/mail/send", json=body, headers={"Authorization": "Bearer any"})

        messages = client.get("/_sandbox/sendgrid/messages").json()
        assert [m["to"] for m in messages] == ["r2@example.com", "r3@example.com", "r4@example.com"]
        assert client.get("/_sandbox/sendgrid/stats").json()["accepted"] == 5


# -- the fakes' own checks ----------------------------------------------------------------


@pytest.mark.parametrize("path", MANDRILL_PATHS)
def test_mandrill_fake_answers_on_every_known_path(control: httpx.Client, path: str) -> None:
    response = send_mandrill(control, path=path)

    assert response.status_code == 200
    assert response.json()[0]["status"] == "sent"


def test_mandrill_fake_refuses_a_missing_key_and_a_missing_message(control: httpx.Client) -> None:
    no_key = control.post(MANDRILL_PATHS[0], json={"message": {}})
    no_message = control.post(MANDRILL_PATHS[0], json={"key": SANDBOX_KEYS["mandrill"]})

    assert no_key.status_code == 401
    assert no_key.json() == {
        "status": "error",
        "code": 401,
        "name": "Invalid_Key",
        "message": "You must specify a key value",
    }
    assert no_message.status_code == 422
    assert no_message.json()["name"] == "ValidationError"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "authorization required"),
        ({"Authorization": SANDBOX_KEYS["sendgrid"]}, "authorization required"),
        ({"Authorization": "Bearer nope"}, "authorization grant is invalid"),
    ],
)
def test_sendgrid_fake_refuses_missing_malformed_and_wrong_keys(
    control: httpx.Client, headers: dict[str, str], message: str
) -> None:
    body = sendgrid_payload(make_message())

    response = control.post("/v3/mail/send", json=body, headers=headers)

    assert response.status_code == 401
    assert message in response.json()["errors"][0]["message"]


def test_sendgrid_fake_lists_every_missing_field(control: httpx.Client) -> None:
    response = control.post("/v3/mail/send", json={}, headers=SENDGRID_AUTH)

    assert response.status_code == 400
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["personalizations", "from", "subject", "content"]


def test_sendgrid_fake_requires_text_plain_before_text_html(control: httpx.Client) -> None:
    body = sendgrid_payload(make_message())
    body["content"].reverse()

    response = control.post("/v3/mail/send", json=body, headers=SENDGRID_AUTH)

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("If present, text/plain content")


def test_any_non_empty_key_is_accepted_when_no_keys_are_configured() -> None:
    with TestClient(create_sandbox_app(), base_url=LOCAL) as client:
        body = sendgrid_payload(make_message())
        accepted = client.post("/v3/mail/send", json=body, headers={"Authorization": "Bearer x"})
        refused = client.post("/v3/mail/send", json=body, headers={"Authorization": "Bearer "})
        payload = mandrill_payload(make_message(), "anything")
        mandrill = client.post(MANDRILL_PATHS[0], json=payload)

    assert accepted.status_code == 202 and accepted.headers["x-message-id"]
    assert refused.status_code == 401
    assert mandrill.status_code == 200


def test_starting_faults_can_be_given_to_the_factory() -> None:
    app = create_sandbox_app(faults={"mandrill": {"failRate": 1.0, "status": 500}})
    with TestClient(app, base_url=LOCAL) as client:
        payload = mandrill_payload(make_message(), "any")
        response = client.post(MANDRILL_PATHS[0], json=payload)

    assert response.status_code == 500
    assert response.json()["name"] == "GeneralError"


def test_one_fault_object_applies_to_every_provider() -> None:
    app = create_sandbox_app(faults={"failRate": 1.0, "status": 502, "latencyMs": 0})
    with TestClient(app, base_url=LOCAL) as client:
        sendgrid = client.get("/_sandbox/sendgrid/faults").json()
        mandrill = client.get("/_sandbox/mandrill/faults").json()

    expected = {"failRate": 1.0, "status": 502, "latencyMs": 0.0, "retryAfter": None}
    assert sendgrid == expected
    assert mandrill == expected


@pytest.mark.parametrize(
    "arguments",
    [
        {"faults": {"mandrill": {"failRate": 3}}},
        {"faults": {"nosuchmail": {}}},
        {"faults": {"failRate": 3}},
        {"api_keys": {"x": "k"}},
    ],
)
def test_the_factory_refuses_bad_faults_and_unknown_providers(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        create_sandbox_app(**arguments)


# -- where it may be driven from ------------------------------------------------------------


def test_the_sandbox_answers_its_local_names_only_so_a_rebound_name_cannot_drive_it() -> None:
    with TestClient(create_sandbox_app(), base_url=LOCAL) as client:
        local = [client.get("/_sandbox/sendgrid/stats", headers={"Host": host}).status_code
                 for host in ("localhost:8025", "127.0.0.1:8025", "[::1]:8025")]
        rebound = client.put("/_sandbox/sendgrid/faults", json={"failRate": 1.0},
                             headers={"Host": "evil.example:8025"})
        faults = client.get("/_sandbox/sendgrid/faults").json()

    assert local == [200, 200, 200]
    assert rebound.status_code == 400
    assert "--allowed-hosts" in rebound.json()["error"]
    assert faults["failRate"] == 0.0


def test_another_sites_page_cannot_reset_the_sandbox() -> None:
    with TestClient(create_sandbox_app(), base_url=LOCAL) as client:
        send_sendgrid(client)
        refused = client.post("/_sandbox/reset", headers={"Origin": "https://evil.example"})
        stats = client.get("/_sandbox/sendgrid/stats").json()

    assert refused.status_code == 403
    assert stats["accepted"] == 1


def test_the_sandbox_answers_its_bind_address_and_the_names_it_is_given() -> None:
    hosts = HostPolicy.local("0.0.0.0", extra=parse_host_patterns("sandbox"))
    with TestClient(create_sandbox_app(hosts=hosts), base_url="http://sandbox:8025") as client:
        assert client.get("/_sandbox/sendgrid/stats").status_code == 200
        assert client.get("/_sandbox/sendgrid/stats",
                          headers={"Host": "0.0.0.0:8025"}).status_code == 400
    bound = HostPolicy.local("10.0.0.7")
    with TestClient(create_sandbox_app(hosts=bound), base_url="http://10.0.0.7:8025") as client:
        assert client.get("/_sandbox/sendgrid/stats").status_code == 200
