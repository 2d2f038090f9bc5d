"""One callback try over real loopback HTTP(S): signed as Standard Webhooks, sent to the address
that was checked (under the URL's name, certificate included), refused at delivery time when
the name now leads inside the network, and bounded: no redirect followed, no answer awaited
past the timeout."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator, Sequence

import pytest
import trustme
from standardwebhooks import Webhook

from micromailer.callbacks.sender import CallbackSender, Outgoing
from micromailer.callbacks.tokens import new_secret, new_webhook_id
from micromailer.callbacks.urls import Resolver
from micromailer.store.base import utcnow
from tests.support.receiver import CallbackReceiver

PAYLOAD = json.dumps({"type": "email.sent", "timestamp": "2026-12-05T16:00:00.000Z",
                      "data": {"emailId": "e-1", "status": "sent"}})
NAME = "hooks.example.test"


def outgoing(url: str, secret: str | None = None) -> Outgoing:
    return Outgoing(new_webhook_id(utcnow()), url, secret or new_secret(), PAYLOAD)


def resolving(*addresses: str) -> Resolver:
    """A resolver that answers ``addresses`` for every name, as a DNS server would."""

    def resolve(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolve


@pytest.fixture
def sender() -> Iterator[CallbackSender]:
    one = CallbackSender(timeout=5, allow_private=True)
    yield one
    one.close()


def test_a_try_is_signed_as_standard_webhooks_and_verifies_with_the_library(
    sender: CallbackSender,
) -> None:
    secret = new_secret()
    with CallbackReceiver() as receiver:
        sent = outgoing(receiver.url, secret)
        result = sender.send(sent)

    assert result.delivered and result.status_code == 200
    [arrival] = receiver.arrivals()
    assert arrival.path == "/hooks/email"
    assert arrival.headers["content-type"] == "application/json"
    assert arrival.headers["webhook-id"] == sent.webhook_id
    assert abs(int(arrival.headers["webhook-timestamp"]) - time.time()) < 5
    assert Webhook(secret).verify(arrival.body, arrival.headers) == json.loads(PAYLOAD)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new_secret()).verify(arrival.body, arrival.headers)


def test_a_loopback_url_is_refused_at_delivery_time_without_naming_the_address() -> None:
    strict = CallbackSender(timeout=5, allow_private=False)
    with CallbackReceiver() as receiver:
        result = strict.send(outgoing(receiver.url))
    strict.close()

    assert result.status_code is None and not result.delivered
    assert result.error == "refused: the URL's host no longer resolves to public addresses only"
    assert receiver.arrivals() == []


def test_a_name_that_now_resolves_inside_the_network_is_refused() -> None:
    strict = CallbackSender(timeout=5, allow_private=False, resolver=resolving("10.0.0.5"))
    mixed = CallbackSender(timeout=5, allow_private=False,
                           resolver=resolving("93.184.216.34", "169.254.169.254"))
    gone = CallbackSender(timeout=5, allow_private=False, resolver=_unresolvable)

    assert strict.send(outgoing(f"https://{NAME}/h")).error == (
        "refused: the URL's host no longer resolves to public addresses only")
    assert mixed.send(outgoing(f"https://{NAME}/h")).error == (
        "refused: the URL's host no longer resolves to public addresses only")
    assert gone.send(outgoing(f"https://{NAME}/h")).error == (
        "the URL's host could not be resolved")
    for one in (strict, mixed, gone):
        one.close()


def test_the_try_goes_to_the_address_checked_under_the_urls_name() -> None:
    pinned = CallbackSender(timeout=5, allow_private=True, resolver=resolving("127.0.0.1"))
    with CallbackReceiver() as receiver:
        result = pinned.send(outgoing(f"http://{NAME}:{receiver.port}/hooks/email?k=1"))
    pinned.close()

    assert result.delivered
    [arrival] = receiver.arrivals()
    assert arrival.headers["host"] == f"{NAME}:{receiver.port}"
    assert arrival.path == "/hooks/email?k=1"


def test_over_https_the_certificate_is_checked_against_the_urls_name() -> None:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(NAME).configure_cert(server)
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    good = CallbackSender(timeout=5, allow_private=True, resolver=resolving("127.0.0.1"),
                          verify=trust)
    with CallbackReceiver(tls=server) as receiver:
        right_name = good.send(outgoing(f"https://{NAME}:{receiver.port}/hooks/email"))
        wrong_name = good.send(outgoing(f"https://other.example.test:{receiver.port}/h"))
    good.close()

    assert right_name.delivered, right_name.error
    assert not wrong_name.delivered and wrong_name.status_code is None
    assert wrong_name.error == "could not connect to the receiver"
    assert len(receiver.arrivals()) == 1


def test_a_redirect_is_not_followed(sender: CallbackSender) -> None:
    with CallbackReceiver() as elsewhere, CallbackReceiver(redirect_to=elsewhere.url) as moved:
        result = sender.send(outgoing(moved.url))

    assert (result.status_code, result.delivered) == (302, False)
    assert result.error is not None and "redirects are not followed" in result.error
    assert elsewhere.arrivals() == []


def test_a_receiver_that_never_answers_fails_the_try_at_the_timeout() -> None:
    quick = CallbackSender(timeout=1, allow_private=True)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        result = quick.send(outgoing(f"http://127.0.0.1:{silent.getsockname()[1]}/h"))
        took = time.monotonic() - started
    quick.close()

    assert result.error == "no answer within 1 s"
    assert took < 3


def _unresolvable(host: str, port: int) -> Sequence[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
